package slacktest

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Block Kit limits Slack enforces, from Slack's Block Kit reference
// (https://docs.slack.dev/reference/block-kit/blocks, …/block-elements,
// …/composition-objects/confirmation-dialog-object, …/composition-objects/option-object,
// …/views): Slack answers invalid_blocks (messages) or invalid_arguments (views) past them.
const (
	maxMessageBlocks   = 50
	maxViewBlocks      = 100
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxHeaderText      = 150
	maxBlockID         = 255
	maxActionElements  = 25
	maxContextElements = 10
	maxButtonText      = 75
	maxURL             = 3000
	maxOptions         = 100
	maxInputLength     = 3000
	maxLabel           = 2000
	maxViewTitle       = 24
	maxPrivateMetadata = 3000
	maxCallbackID      = 255
	maxConfirmTitle    = 100
	maxConfirmText     = 300
	maxConfirmButton   = 30
	maxOptionText      = 75
	maxOptionValue     = 150
	maxOptionDesc      = 75
	maxPlaceholder     = 150
	maxHint            = 2000
	maxButtonValue     = 2000
	maxAltText         = 2000
	maxTextObject      = 3000 // any text object without a smaller limit of its own

	// maxBlocksText is how much text all the blocks of one message may carry together
	// before chat.postMessage answers msg_blocks_too_long. Slack does not document it;
	// a Slack SDK maintainer gave it as "12,000 text characters with a buffer for block
	// containers" (bolt-js#2509: refused at about 13,200 characters of section and
	// markdown text; bolt-js#2867: refused at 11,341). The fake refuses past 12,000, the
	// strict end. Replies through a response_url were not refused in bolt-js#2867, and
	// the fake does not limit them.
	maxBlocksText = 12000
)

// blockChecker collects Slack-style validation messages
// ("[ERROR] must be less than 51 items [json-pointer:/blocks]").
type blockChecker struct {
	s        *Server
	messages []string
}

func (b *blockChecker) errorf(pointer, format string, args ...any) {
	b.messages = append(b.messages, fmt.Sprintf("[ERROR] %s [json-pointer:%s]", fmt.Sprintf(format, args...), pointer))
}

// validateMessageBlocks answers invalid_blocks (with messages) for blocks Slack refuses in a
// message, and invalid_blocks_format for blocks that are not a JSON array.
func (s *Server) validateMessageBlocks(raw json.RawMessage) *slackError {
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return errCode("invalid_blocks_format")
	}
	b := &blockChecker{s: s}
	b.blocks("/blocks", blocks, maxMessageBlocks)
	if len(b.messages) > 0 {
		return errCode("invalid_blocks", b.messages...)
	}
	return nil
}

func (b *blockChecker) blocks(pointer string, blocks []map[string]json.RawMessage, max int) {
	if len(blocks) > max {
		b.errorf(pointer, "must be less than %d items", max+1)
		return
	}
	ids := map[string]bool{}
	for i, blk := range blocks {
		p := fmt.Sprintf("%s/%d", pointer, i)
		if id := str(blk["block_id"]); id != "" {
			if utf8.RuneCountInString(id) > maxBlockID {
				b.errorf(p+"/block_id", "must be less than %d characters", maxBlockID+1)
			}
			if ids[id] {
				b.errorf(p+"/block_id", "duplicate block_id %q", id)
			}
			ids[id] = true
		}
		b.block(p, blk)
	}
}

func (b *blockChecker) block(p string, blk map[string]json.RawMessage) {
	switch typ := str(blk["type"]); typ {
	case "section":
		text, hasText := blk["text"]
		fields, hasFields := blk["fields"]
		if !hasText && !hasFields {
			b.errorf(p, "must provide text or fields")
		}
		if hasText {
			b.text(p+"/text", text, maxSectionText, false)
		}
		if hasFields {
			var fs []json.RawMessage
			if json.Unmarshal(fields, &fs) != nil || len(fs) > maxSectionFields {
				b.errorf(p+"/fields", "must be less than %d items", maxSectionFields+1)
			}
			for i, f := range fs {
				b.text(fmt.Sprintf("%s/fields/%d", p, i), f, maxFieldText, false)
			}
		}
		if acc, ok := blk["accessory"]; ok {
			b.element(p+"/accessory", acc)
		}
	case "header":
		b.text(p+"/text", blk["text"], maxHeaderText, true)
	case "divider":
	case "actions":
		b.elements(p+"/elements", blk["elements"], maxActionElements)
	case "context":
		var els []map[string]json.RawMessage
		if json.Unmarshal(blk["elements"], &els) != nil || len(els) == 0 {
			b.errorf(p+"/elements", "must provide at least 1 item")
		} else if len(els) > maxContextElements {
			b.errorf(p+"/elements", "must be less than %d items", maxContextElements+1)
		}
		for i, el := range els {
			ep := fmt.Sprintf("%s/elements/%d", p, i)
			switch str(el["type"]) {
			case "plain_text", "mrkdwn":
				raw, _ := json.Marshal(el)
				b.text(ep, raw, maxTextObject, false)
			case "image":
				if str(el["alt_text"]) == "" {
					b.errorf(ep, "missing required field: alt_text")
				}
			default:
				b.errorf(ep+"/type", "must be plain_text, mrkdwn or image")
			}
		}
	case "image":
		b.image(p, blk)
	case "input":
		if _, ok := blk["label"]; !ok {
			b.errorf(p, "missing required field: label")
		} else {
			b.text(p+"/label", blk["label"], maxLabel, true)
		}
		if hint, ok := blk["hint"]; ok {
			b.text(p+"/hint", hint, maxHint, true)
		}
		if el, ok := blk["element"]; ok {
			b.element(p+"/element", el)
		} else {
			b.errorf(p, "missing required field: element")
		}
	case "rich_text", "markdown", "file", "video", "context_actions", "table":
	case "":
		b.errorf(p, "missing required field: type")
	default:
		b.errorf(p+"/type", "invalid block type %q", typ)
	}
}

// text checks a text object: plain_text or mrkdwn, not empty, at most max characters.
func (b *blockChecker) text(p string, raw json.RawMessage, max int, plainOnly bool) {
	var t struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &t) != nil || t.Type == "" {
		b.errorf(p, "must be a text object")
		return
	}
	if t.Type != "plain_text" && (plainOnly || t.Type != "mrkdwn") {
		b.errorf(p+"/type", "must be plain_text")
	}
	n := utf8.RuneCountInString(t.Text)
	if n == 0 {
		b.errorf(p+"/text", "must be more than 0 characters")
	}
	if n > max {
		b.errorf(p+"/text", "must be less than %d characters", max+1)
	}
}

func (b *blockChecker) elements(p string, raw json.RawMessage, max int) {
	var els []json.RawMessage
	if json.Unmarshal(raw, &els) != nil || len(els) == 0 {
		b.errorf(p, "must provide at least 1 item")
		return
	}
	if len(els) > max {
		b.errorf(p, "must be less than %d items", max+1)
	}
	for i, el := range els {
		b.element(fmt.Sprintf("%s/%d", p, i), el)
	}
}

func (b *blockChecker) element(p string, raw json.RawMessage) {
	var el map[string]json.RawMessage
	if json.Unmarshal(raw, &el) != nil {
		b.errorf(p, "must be an object")
		return
	}
	if id := str(el["action_id"]); utf8.RuneCountInString(id) > maxBlockID {
		b.errorf(p+"/action_id", "must be less than %d characters", maxBlockID+1)
	}
	if raw, ok := el["confirm"]; ok {
		b.confirm(p+"/confirm", raw)
	}
	if raw, ok := el["placeholder"]; ok {
		b.text(p+"/placeholder", raw, maxPlaceholder, true)
	}
	switch str(el["type"]) {
	case "button":
		b.text(p+"/text", el["text"], maxButtonText, true)
		if u := str(el["url"]); utf8.RuneCountInString(u) > maxURL {
			b.errorf(p+"/url", "must be less than %d characters", maxURL+1)
		}
		if v := str(el["value"]); utf8.RuneCountInString(v) > maxButtonValue {
			b.errorf(p+"/value", "must be less than %d characters", maxButtonValue+1)
		}
	case "static_select", "multi_static_select", "radio_buttons", "checkboxes", "overflow":
		var opts []json.RawMessage
		if raw, ok := el["options"]; ok {
			if json.Unmarshal(raw, &opts) != nil || len(opts) == 0 {
				b.errorf(p+"/options", "must provide at least 1 item")
			} else if len(opts) > maxOptions {
				b.errorf(p+"/options", "must be less than %d items", maxOptions+1)
			}
			for i, o := range opts {
				b.option(fmt.Sprintf("%s/options/%d", p, i), o)
			}
		} else if _, ok := el["option_groups"]; !ok {
			b.errorf(p, "must provide options or option_groups")
		}
		for _, k := range []string{"initial_option"} {
			if raw, ok := el[k]; ok {
				b.option(p+"/"+k, raw)
			}
		}
	case "plain_text_input":
		for _, k := range []string{"max_length", "min_length"} {
			if raw, ok := el[k]; ok {
				var n int
				if json.Unmarshal(raw, &n) != nil || n < 0 || n > maxInputLength {
					b.errorf(p+"/"+k, "must be at most %d", maxInputLength)
				}
			}
		}
		if iv := str(el["initial_value"]); utf8.RuneCountInString(iv) > maxInputLength {
			b.errorf(p+"/initial_value", "must be less than %d characters", maxInputLength+1)
		}
	case "":
		b.errorf(p, "missing required field: type")
	}
}

// confirm checks a confirmation dialog object: title 100, text 300, confirm and deny 30.
func (b *blockChecker) confirm(p string, raw json.RawMessage) {
	var c map[string]json.RawMessage
	if json.Unmarshal(raw, &c) != nil {
		b.errorf(p, "must be an object")
		return
	}
	for _, f := range []struct {
		name      string
		max       int
		plainOnly bool
	}{{"title", maxConfirmTitle, true}, {"text", maxConfirmText, false}, {"confirm", maxConfirmButton, true}, {"deny", maxConfirmButton, true}} {
		if t, ok := c[f.name]; ok {
			b.text(p+"/"+f.name, t, f.max, f.plainOnly)
		} else {
			b.errorf(p, "missing required field: %s", f.name)
		}
	}
}

// option checks an option object: text 75, value 150, description 75.
func (b *blockChecker) option(p string, raw json.RawMessage) {
	var o map[string]json.RawMessage
	if json.Unmarshal(raw, &o) != nil {
		b.errorf(p, "must be an object")
		return
	}
	b.text(p+"/text", o["text"], maxOptionText, false)
	if v := str(o["value"]); utf8.RuneCountInString(v) > maxOptionValue {
		b.errorf(p+"/value", "must be less than %d characters", maxOptionValue+1)
	} else if v == "" {
		b.errorf(p+"/value", "must be more than 0 characters")
	}
	if d, ok := o["description"]; ok {
		b.text(p+"/description", d, maxOptionDesc, false)
	}
}

// blocksTextLength is how many characters of text the blocks carry, counting every
// "text" string of every text object in them.
func blocksTextLength(raw json.RawMessage) int {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if t, ok := x["text"].(string); ok && (x["type"] == "plain_text" || x["type"] == "mrkdwn") {
				n += utf8.RuneCountInString(t)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return n
}

// image checks an image block: image_url, or slack_file whose file has finished processing.
func (b *blockChecker) image(p string, blk map[string]json.RawMessage) {
	if alt := str(blk["alt_text"]); alt == "" {
		b.errorf(p, "missing required field: alt_text")
	} else if utf8.RuneCountInString(alt) > maxAltText {
		b.errorf(p+"/alt_text", "must be less than %d characters", maxAltText+1)
	}
	if u, ok := blk["image_url"]; ok {
		if n := utf8.RuneCountInString(str(u)); n == 0 || n > maxURL {
			b.errorf(p+"/image_url", "must be between 1 and %d characters", maxURL)
		}
		return
	}
	raw, ok := blk["slack_file"]
	if !ok {
		b.errorf(p, "must provide image_url or slack_file")
		return
	}
	var sf struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if json.Unmarshal(raw, &sf) != nil || (sf.ID == "" && sf.URL == "") {
		b.errorf(p+"/slack_file", "must provide id or url")
		return
	}
	if sf.ID != "" {
		f := b.s.files[sf.ID]
		if f == nil || !f.completed || time.Now().Before(f.processedAt) {
			b.errorf(p+"/slack_file", "invalid slack file: file not found or not yet processed")
		}
	}
}

// validateView answers invalid_arguments for views Slack refuses: wrong type, title, submit
// or close over 24 characters, more than 100 blocks, private_metadata over 3000 characters,
// input blocks without submit, and the block rules above.
func (s *Server) validateView(raw json.RawMessage, wantType string) (map[string]json.RawMessage, *slackError) {
	var v map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil, errCode("invalid_arguments", "[ERROR] missing required field: view [json-pointer:/view]")
	}
	b := &blockChecker{s: s}
	typ := str(v["type"])
	switch {
	case typ == "":
		b.errorf("/view/type", "missing required field: type")
	case wantType == "home" && typ != "home", wantType == "modal" && typ != "modal":
		b.errorf("/view/type", "must be %s", wantType)
	}
	var blocks []map[string]json.RawMessage
	if rawBlocks, ok := v["blocks"]; !ok || json.Unmarshal(rawBlocks, &blocks) != nil {
		b.errorf("/view/blocks", "missing required field: blocks")
	}
	if typ == "modal" {
		if _, ok := v["title"]; !ok {
			b.errorf("/view/title", "missing required field: title")
		} else {
			b.text("/view/title", v["title"], maxViewTitle, true)
		}
		for _, k := range []string{"submit", "close"} {
			if raw, ok := v[k]; ok && string(raw) != "null" {
				b.text("/view/"+k, raw, maxViewTitle, true)
			}
		}
		hasInput := false
		for _, blk := range blocks {
			hasInput = hasInput || str(blk["type"]) == "input"
		}
		if sub, ok := v["submit"]; hasInput && (!ok || string(sub) == "null") {
			b.errorf("/view", "must provide a submit property when using input blocks")
		}
	}
	if pm := str(v["private_metadata"]); utf8.RuneCountInString(pm) > maxPrivateMetadata {
		b.errorf("/view/private_metadata", "must be less than %d characters", maxPrivateMetadata+1)
	}
	if cb := str(v["callback_id"]); utf8.RuneCountInString(cb) > maxCallbackID {
		b.errorf("/view/callback_id", "must be less than %d characters", maxCallbackID+1)
	}
	b.blocks("/view/blocks", blocks, maxViewBlocks)
	if len(b.messages) > 0 {
		return nil, errCode("invalid_arguments", b.messages...)
	}
	return v, nil
}

// str reads a JSON string, "" for anything else.
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

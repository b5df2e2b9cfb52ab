package bot

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// Block Kit's limits, in one place: every message, reply and view the bot sends goes
// through fitMessage, fitReply or fitView, which cut each field to its limit, so no
// text from a table, a user or Grafana makes Slack refuse a post. Checked against Slack's
// Block Kit reference (https://docs.slack.dev/reference/block-kit/blocks,
// …/block-elements, …/composition-objects/confirmation-dialog-object,
// …/composition-objects/option-object, https://docs.slack.dev/surfaces/modals); the fake
// (bot/slacktest/blocks.go) refuses past the same limits.
const (
	maxMessageBlocks   = 50
	maxViewBlocks      = 100 // modals and the App Home
	maxHeaderText      = 150
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxContextElements = 10
	maxContextText     = 3000
	maxActionElements  = 25
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxURL             = 3000
	maxConfirmTitle    = 100
	maxConfirmText     = 300
	maxConfirmButton   = 30
	maxOptions         = 100
	maxOptionText      = 75
	maxOptionValue     = 150
	maxOptionDesc      = 75
	maxPlaceholder     = 150
	maxLabel           = 2000
	maxHint            = 2000
	maxInputLength     = 3000 // plain_text_input max_length and initial_value
	maxViewTitle       = 24   // a modal's title, submit and close
	maxPrivateMetadata = 3000
	maxAltText         = 2000

	// maxBlocksText is how much text all of a chat.postMessage's blocks may carry together
	// before Slack answers msg_blocks_too_long: undocumented; about 12,000 characters
	// according to Slack's SDK maintainers (bolt-js#2509, bolt-js#2867).
	maxBlocksText = 12000
	// maxMessageText bounds a message's text (the notification text, or the whole message
	// without blocks). Slack truncates past 40,000 and advises at most 4,000
	// (https://docs.slack.dev/reference/methods/chat.postMessage, "Truncating content").
	maxMessageText = 3000
	// maxErrorText bounds a message shown under a modal's input (response_action errors).
	maxErrorText = 2000
)

// fitMessage fits the blocks of a message posted with chat.postMessage: each field to its
// limit, at most 50 blocks and 12,000 characters of text, saying what was left out.
func fitMessage(blocks []slack.Block) []slack.Block {
	return fitBlocks(blocks, maxMessageBlocks, maxBlocksText)
}

// fitReply fits the blocks of a reply sent through a response_url or an ack: each field
// to its limit and at most 50 blocks (Slack does not limit their total text).
func fitReply(blocks []slack.Block) []slack.Block { return fitBlocks(blocks, maxMessageBlocks, 0) }

// fitText fits a message's text.
func fitText(s string) string { return cutMrkdwn(s, maxMessageText) }

// fitView fits a modal: its title, submit and close, at most 100 blocks, each field to its
// limit. private_metadata is never cut, which would corrupt it: ours is a user name or a
// short JSON, far below the limit, and a form whose metadata would not fit (a name typed
// thousands of characters long) carries none, so its submission names no user and
// changes nothing.
func fitView(v slack.ModalViewRequest) slack.ModalViewRequest {
	fitText1(v.Title, maxViewTitle)
	fitText1(v.Submit, maxViewTitle)
	fitText1(v.Close, maxViewTitle)
	if utf8.RuneCountInString(v.PrivateMetadata) > maxPrivateMetadata {
		v.PrivateMetadata = ""
	}
	v.Blocks.BlockSet = fitBlocks(v.Blocks.BlockSet, maxViewBlocks, 0)
	return v
}

// fitBlocks cuts every field of blocks to its limit (in place), keeps at most maxBlocks
// (the last one then says how many were left out) and, with maxText > 0, drops the
// blocks with the most text until all of them carry at most maxText characters.
func fitBlocks(blocks []slack.Block, maxBlocks, maxText int) []slack.Block {
	for _, b := range blocks {
		fitBlock(b)
	}
	if len(blocks) > maxBlocks {
		left := len(blocks) - maxBlocks + 1
		blocks = append(blocks[:maxBlocks-1:maxBlocks-1], leftOut(fmt.Sprintf("… and %d more blocks left out.", left)))
	}
	if maxText <= 0 || blocksText(blocks...) <= maxText {
		return blocks
	}
	note := leftOut("… part of this message was left out: it was too long for Slack.")
	budget := maxText - blocksText(note)
	out := append([]slack.Block(nil), blocks...)
	for blocksText(out...) > budget {
		largest, size := -1, 0
		for i, b := range out {
			if _, actions := b.(*slack.ActionBlock); !actions && blocksText(b) > size {
				largest, size = i, blocksText(b)
			}
		}
		if largest < 0 {
			break
		}
		out = append(out[:largest], out[largest+1:]...)
	}
	if len(out) >= maxBlocks {
		out = out[:maxBlocks-1]
	}
	// The note goes before the buttons, if the message ends with them.
	if n := len(out); n > 0 {
		if _, actions := out[n-1].(*slack.ActionBlock); actions {
			return append(out[:n-1:n-1], note, out[n-1])
		}
	}
	return append(out, note)
}

func leftOut(text string) slack.Block {
	return slack.NewContextBlock("", mrkdwn(text))
}

// fitBlock cuts one block's fields to their limits.
func fitBlock(b slack.Block) {
	switch b := b.(type) {
	case *slack.HeaderBlock:
		fitText1(b.Text, maxHeaderText)
	case *slack.SectionBlock:
		fitText1(b.Text, maxSectionText)
		if len(b.Fields) > maxSectionFields {
			b.Fields = b.Fields[:maxSectionFields]
		}
		for _, f := range b.Fields {
			fitText1(f, maxFieldText)
		}
		if b.Accessory != nil {
			fitAccessory(b.Accessory)
		}
	case *slack.ContextBlock:
		els := b.ContextElements.Elements
		if len(els) > maxContextElements {
			b.ContextElements.Elements = els[:maxContextElements]
		}
		for _, el := range b.ContextElements.Elements {
			switch el := el.(type) {
			case *slack.TextBlockObject:
				fitText1(el, maxContextText)
			case *slack.ImageBlockElement:
				el.AltText = truncate(el.AltText, maxAltText)
			}
		}
	case *slack.ActionBlock:
		if b.Elements == nil {
			return
		}
		if len(b.Elements.ElementSet) > maxActionElements {
			b.Elements.ElementSet = b.Elements.ElementSet[:maxActionElements]
		}
		for _, el := range b.Elements.ElementSet {
			fitElement(el)
		}
	case *slack.InputBlock:
		fitText1(b.Label, maxLabel)
		fitText1(b.Hint, maxHint)
		if b.Element != nil {
			fitElement(b.Element)
		}
	case *slack.ImageBlock:
		b.AltText = truncate(b.AltText, maxAltText)
		fitText1(b.Title, maxAltText)
	}
}

func fitAccessory(a *slack.Accessory) {
	switch {
	case a.ButtonElement != nil:
		fitElement(a.ButtonElement)
	case a.SelectElement != nil:
		fitElement(a.SelectElement)
	case a.PlainTextInputElement != nil:
		fitElement(a.PlainTextInputElement)
	case a.OverflowElement != nil:
		fitElement(a.OverflowElement)
	}
}

// fitElement cuts an interactive element's fields to their limits.
func fitElement(el slack.BlockElement) {
	switch el := el.(type) {
	case *slack.ButtonBlockElement:
		fitText1(el.Text, maxButtonText)
		el.Value = truncate(el.Value, maxButtonValue)
		fitConfirm(el.Confirm)
		if utf8.RuneCountInString(el.URL) > maxURL {
			el.URL = "" // a cut URL would lead somewhere else
		}
	case *slack.SelectBlockElement:
		fitText1(el.Placeholder, maxPlaceholder)
		if len(el.Options) > maxOptions {
			el.Options = el.Options[:maxOptions]
		}
		for _, o := range el.Options {
			fitOption(o)
		}
		for _, g := range el.OptionGroups {
			for _, o := range g.Options {
				fitOption(o)
			}
		}
		fitOption(el.InitialOption)
		fitConfirm(el.Confirm)
	case *slack.OverflowBlockElement:
		for _, o := range el.Options {
			fitOption(o)
		}
		fitConfirm(el.Confirm)
	case *slack.PlainTextInputBlockElement:
		fitText1(el.Placeholder, maxPlaceholder)
		el.MaxLength = min(el.MaxLength, maxInputLength)
		el.InitialValue = truncate(el.InitialValue, maxInputLength)
	}
}

func fitConfirm(c *slack.ConfirmationBlockObject) {
	if c == nil {
		return
	}
	fitText1(c.Title, maxConfirmTitle)
	fitText1(c.Text, maxConfirmText)
	fitText1(c.Confirm, maxConfirmButton)
	fitText1(c.Deny, maxConfirmButton)
}

// fitOption cuts an option's text and description. Its value is an identifier the bot
// reads back, never cut: the bot's values (user names, credential keys) are far shorter.
func fitOption(o *slack.OptionBlockObject) {
	if o == nil {
		return
	}
	fitText1(o.Text, maxOptionText)
	fitText1(o.Description, maxOptionDesc)
}

// fitText1 cuts a text object to n characters, in mrkdwn without splitting an entity or a
// control sequence.
func fitText1(t *slack.TextBlockObject, n int) {
	if t == nil {
		return
	}
	if t.Type == slack.MarkdownType {
		t.Text = cutMrkdwn(t.Text, n)
	} else {
		t.Text = truncate(t.Text, n)
	}
}

// blocksText counts the characters of every text object in blocks, as Slack counts them
// for msg_blocks_too_long.
func blocksText(blocks ...slack.Block) int {
	n := 0
	add := func(ts ...*slack.TextBlockObject) {
		for _, t := range ts {
			if t != nil {
				n += utf8.RuneCountInString(t.Text)
			}
		}
	}
	var addElement func(el slack.BlockElement)
	addElement = func(el slack.BlockElement) {
		switch el := el.(type) {
		case *slack.ButtonBlockElement:
			add(el.Text)
			if el.Confirm != nil {
				add(el.Confirm.Title, el.Confirm.Text, el.Confirm.Confirm, el.Confirm.Deny)
			}
		case *slack.SelectBlockElement:
			add(el.Placeholder)
			for _, o := range el.Options {
				add(o.Text, o.Description)
			}
		}
	}
	for _, b := range blocks {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			add(b.Text)
		case *slack.SectionBlock:
			add(b.Text)
			add(b.Fields...)
			if b.Accessory != nil && b.Accessory.ButtonElement != nil {
				addElement(b.Accessory.ButtonElement)
			}
		case *slack.ContextBlock:
			for _, el := range b.ContextElements.Elements {
				if t, ok := el.(*slack.TextBlockObject); ok {
					add(t)
				}
			}
		case *slack.ActionBlock:
			if b.Elements != nil {
				for _, el := range b.Elements.ElementSet {
					addElement(el)
				}
			}
		case *slack.InputBlock:
			add(b.Label, b.Hint)
		}
	}
	return n
}

// truncate shortens s to at most n runes, ending with "…" when it cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// cutMrkdwn shortens mrkdwn to at most n runes, ending with "…" when it cut, and never
// inside an entity (&amp;) or a control sequence (<…>), which would show as broken text.
func cutMrkdwn(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	cut := len(r)
	for i := cut - 1; i >= 0 && i >= cut-8; i-- { // an entity is at most "&amp;"
		if r[i] == ';' {
			break
		}
		if r[i] == '&' {
			cut = i
			break
		}
	}
	for i := cut - 1; i >= 0; i-- {
		if r[i] == '>' {
			break
		}
		if r[i] == '<' {
			cut = i
			break
		}
	}
	return strings.TrimRight(string(r[:cut]), " ") + "…"
}

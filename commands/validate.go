package commands

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"

	"credential-grafana/cg"
)

// slackChannelRe is the channel kinds the manifest's scopes cover: public (C…) and
// private (G…, and newer private channels with C…) channels the bot is in. Direct
// messages (D…) are not: the app has no Messages tab and asks for no im: scopes.
var (
	usernameRe     = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)
	slackUserRe    = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
	slackChannelRe = regexp.MustCompile(`^[CG][A-Z0-9]{8,}$`)
)

// UsernameRule is the rule for user names, in words.
const UsernameRule = "a username starts with a lowercase letter, then lowercase letters, digits, _ or -, at most 40 characters in all"

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		if name := f.Tag.Get("name"); name != "" {
			return name
		}
		return strings.ToLower(f.Name)
	})
	must(v.RegisterValidation("username", func(fl validator.FieldLevel) bool { return usernameRe.MatchString(fl.Field().String()) }))
	must(v.RegisterValidation("slack_user", func(fl validator.FieldLevel) bool { return slackUserRe.MatchString(fl.Field().String()) }))
	must(v.RegisterValidation("slack_channel", func(fl validator.FieldLevel) bool { return slackChannelRe.MatchString(fl.Field().String()) }))
	return v
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// check validates in with its struct tags and turns every failure into one EINVALID error
// whose message names each field, what it holds and what is expected.
func check(in any) error {
	err := validate.Struct(in)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate: %w", err)
	}
	msgs := make([]string, 0, len(verrs))
	for _, fe := range verrs {
		msgs = append(msgs, fieldMessage(fe))
	}
	return &cg.Error{Code: cg.EINVALID, Message: strings.Join(msgs, "; ")}
}

func fieldMessage(fe validator.FieldError) string {
	val := fmt.Sprint(fe.Value())
	switch fe.Tag() {
	case "required":
		return fmt.Sprintf("%s is required", fe.Field())
	case "username":
		msg := fmt.Sprintf("invalid username %q: %s", truncate(val, 60), UsernameRule)
		if s := SuggestUsername(val); s != "" && s != val {
			msg += fmt.Sprintf("; use %q", s)
		}
		return msg
	case "slack_user":
		return fmt.Sprintf("invalid Slack member ID %q: expected an ID like U012AB3CD (in Slack: profile → ⋮ → Copy member ID)", truncate(val, 60))
	case "slack_channel":
		return fmt.Sprintf("invalid Slack channel ID %q: expected a channel ID like C012AB3CD4E (or G… for a private channel), not a #name or a direct message (D…) (in Slack: channel details → About → Channel ID)", truncate(val, 60))
	}
	return fmt.Sprintf("%s %q is not valid (%s)", fe.Field(), truncate(val, 60), fe.Tag())
}

// SuggestUsername turns s into the nearest name that follows UsernameRule, or "" if
// nothing of it is usable.
func SuggestUsername(s string) string {
	var b strings.Builder
	lastDash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
			lastDash = false
		case r == '-' || unicode.IsSpace(r) || r == '.':
			if !lastDash && b.Len() > 0 {
				b.WriteByte('-')
				lastDash = true
			}
		}
	}
	out := strings.TrimLeftFunc(b.String(), func(r rune) bool { return !(r >= 'a' && r <= 'z') })
	if len(out) > 40 {
		out = out[:40]
	}
	out = strings.TrimRight(out, "-_")
	if !usernameRe.MatchString(out) {
		return ""
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"strings"
	texttemplate "text/template"

	"github.com/sitepulse/sitepulse/controlplane"
)

// Languages are the template languages; a tenant's other choice falls
// back to English.
var Languages = []string{"en", "sw"}

//go:embed templates
var templateFS embed.FS

// templates holds, per language, every kind's blocks: KIND.subject,
// KIND.text (the email's plain text), KIND.sms (SMS and Telegram) as text
// templates and KIND.html as an HTML template, from the same files.
type templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// view is what templates see: {{.Tenant}}, {{.URL}} (the dashboard) and
// the event's data as {{.D.key}} (a missing key is an error).
type view struct {
	Tenant string
	URL    string
	D      map[string]string
}

// message is a rendered notification.
type message struct{ Subject, Text, SMS, HTML string }

func loadTemplates() (*templates, error) {
	t := &templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, lang := range Languages {
		pattern := "templates/" + lang + "/*.tmpl"
		tt, err := texttemplate.New(lang).Option("missingkey=error").ParseFS(templateFS, pattern)
		if err != nil {
			return nil, fmt.Errorf("templates %s: %w", lang, err)
		}
		ht, err := htmltemplate.New(lang).Option("missingkey=error").ParseFS(templateFS, pattern)
		if err != nil {
			return nil, fmt.Errorf("templates %s: %w", lang, err)
		}
		for _, k := range controlplane.NotificationKinds {
			for _, b := range []string{"subject", "text", "sms", "html"} {
				if tt.Lookup(string(k)+"."+b) == nil {
					return nil, fmt.Errorf("templates %s: %s.%s is missing", lang, k, b)
				}
			}
		}
		t.text[lang], t.html[lang] = tt, ht
	}
	if _, err := fs.Stat(templateFS, "templates/en"); err != nil {
		return nil, err
	}
	return t, nil
}

// render fills kind's blocks in lang (English when lang has none).
func (t *templates) render(kind controlplane.NotificationKind, lang string, v view) (message, error) {
	tt, ok := t.text[lang]
	if !ok {
		lang, tt = "en", t.text["en"]
	}
	var m message
	run := func(name string, dst *string) error {
		var b bytes.Buffer
		if err := tt.ExecuteTemplate(&b, string(kind)+"."+name, v); err != nil {
			return fmt.Errorf("template %s %s.%s: %w", lang, kind, name, err)
		}
		*dst = strings.TrimSpace(b.String())
		return nil
	}
	for name, dst := range map[string]*string{"subject": &m.Subject, "text": &m.Text, "sms": &m.SMS} {
		if err := run(name, dst); err != nil {
			return message{}, err
		}
	}
	var b bytes.Buffer
	if err := t.html[lang].ExecuteTemplate(&b, string(kind)+".html", v); err != nil {
		return message{}, fmt.Errorf("template %s %s.html: %w", lang, kind, err)
	}
	m.HTML = b.String()
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	return m, nil
}

func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}

package peers

import (
	"bytes"
	"embed"
	"fmt"
	"text/template"
)

//go:embed haproxy.cfg.tmpl nginx.conf.tmpl
var templates embed.FS

var tmpl = template.Must(template.New("").Option("missingkey=error").ParseFS(templates, "*.tmpl"))

// HAProxy renders haproxy.cfg for p.
func HAProxy(p Params) ([]byte, error) { return render("haproxy.cfg.tmpl", p) }

// Nginx renders nginx.conf for p.
func Nginx(p Params) ([]byte, error) { return render("nginx.conf.tmpl", p) }

func render(name string, p Params) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tmpl.ExecuteTemplate(&b, name, p); err != nil {
		return nil, fmt.Errorf("peers: render %s: %w", name, err)
	}
	return b.Bytes(), nil
}

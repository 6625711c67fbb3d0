package test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/jobstatus/jobstatus"

// packages lists every package of the module with its imports; with tests
// true, test-only imports count too.
func packages(t *testing.T, tests bool) map[string][]string {
	t.Helper()
	format := `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`
	if tests {
		format = `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}`
	}
	out, err := exec.Command("go", "list", "-f", format, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkgs[fields[0]] = fields[1:]
	}
	return pkgs
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestLayering(t *testing.T) {
	t.Parallel()
	pkgs := packages(t, false)
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages; is the module path right?", len(pkgs))
	}
	for pkg, imports := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		for _, imp := range imports {
			switch {
			case rel == "domain" && !isStd(imp):
				t.Errorf("domain imports %s: it may import only the standard library", imp)
			case rel == "app" && !isStd(imp) && imp != module+"/domain" && imp != module+"/ports":
				t.Errorf("app imports %s: it may import only domain and ports", imp)
			case rel == "client" && !isStd(imp):
				t.Errorf("client imports %s: other modules import it, so it may import only the standard library", imp)
			case rel == "ports" && !isStd(imp) && imp != module+"/domain":
				t.Errorf("ports imports %s: it may import only domain", imp)
			case strings.HasPrefix(imp, "go.uber.org/fx") && rel != "bootstrap":
				t.Errorf("%s imports fx: only bootstrap, the composition root, may", rel)
			case imp == "github.com/spf13/cobra" && rel != "cmd/jobstatus/cli":
				t.Errorf("%s imports cobra: the commands live in cmd/jobstatus/cli", rel)
			case rel == "cmd/jobstatus" && !isStd(imp) && imp != module+"/cmd/jobstatus/cli":
				t.Errorf("cmd/jobstatus imports %s: main only runs cli.Execute", imp)
			case strings.HasPrefix(imp, "go.opentelemetry.io/otel/sdk") && rel != "bootstrap":
				t.Errorf("%s imports the OpenTelemetry SDK: only bootstrap may; adapters use the API", rel)
			case strings.HasPrefix(rel, "adapters/") && strings.HasPrefix(imp, module+"/adapters/"):
				t.Errorf("%s imports %s: an adapter never imports another adapter", rel, imp)
			case strings.HasPrefix(imp, module+"/bootstrap") && !strings.HasPrefix(rel, "cmd/") && !strings.HasPrefix(rel, "test"):
				t.Errorf("%s imports bootstrap: only cmd (and the end-to-end tests) may", rel)
			}
		}
	}
}

func TestDomainTestsStayStandard(t *testing.T) {
	t.Parallel()
	for _, imp := range packages(t, true)[module+"/domain"] {
		if !isStd(imp) && imp != module+"/domain" {
			t.Errorf("domain tests import %s: keep the domain free of third-party code", imp)
		}
	}
}

// TestDomainCarriesNoFormats fails when a struct in domain/ carries a tag
// (json, db, yaml...): wire and storage formats belong to the adapters,
// which map to types of their own.
func TestDomainCarriesNoFormats(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join("..", "domain", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no domain sources found: %v", err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if field, ok := n.(*ast.Field); ok && field.Tag != nil {
				t.Errorf("%s: struct tag %s: the domain carries no wire or storage format", fset.Position(field.Pos()), field.Tag.Value)
			}
			return true
		})
	}
}

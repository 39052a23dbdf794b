package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImagesPerPlatform packs the real agent for each platform and checks
// what RouterOS's importer reads: manifest, config platform, entrypoint,
// non-root user; the amd64 binary is extracted and run. It uses the
// binaries of `make cross` when SITEPULSE_CROSS_DIR names their folder
// (the Makefile sets it), and builds them itself otherwise.
func TestImagesPerPlatform(t *testing.T) {
	dir := t.TempDir()
	cross := os.Getenv("SITEPULSE_CROSS_DIR")
	for _, tc := range []struct{ platform, goarch, goarm, arch, variant string }{
		{"linux/amd64", "amd64", "", "amd64", ""},
		{"linux/arm64", "arm64", "", "arm64", ""},
		{"linux/arm/v7", "arm", "7", "arm", "v7"},
	} {
		t.Run(tc.platform, func(t *testing.T) {
			bin := filepath.Join(cross, "sitepulse-agent-linux-"+tc.goarch+map[string]string{"7": "v7"}[tc.goarm])
			if _, err := os.Stat(bin); cross == "" || err != nil {
				bin = filepath.Join(dir, "agent-"+tc.goarch)
				build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "../../cmd/sitepulse-agent")
				build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+tc.goarch, "GOARM="+tc.goarm)
				if out, err := build.CombinedOutput(); err != nil {
					t.Fatalf("build agent: %v\n%s", err, out)
				}
			}
			out := filepath.Join(dir, "img-"+tc.goarch+".tar")
			if err := build2(bin, tc.platform, out); err != nil {
				t.Fatal(err)
			}
			files := readTar(t, out)
			var manifest []struct {
				Config   string
				RepoTags []string
				Layers   []string
			}
			if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
				t.Fatalf("manifest.json: %v", err)
			}
			if len(manifest) != 1 || len(manifest[0].Layers) != 1 || manifest[0].RepoTags[0] != "sitepulse/agent:test" {
				t.Fatalf("manifest: %+v", manifest)
			}
			var cfg struct {
				Architecture, OS, Variant string
				Config                    struct {
					Entrypoint []string
					User       string
				}
			}
			if err := json.Unmarshal(files[manifest[0].Config], &cfg); err != nil {
				t.Fatalf("config: %v", err)
			}
			if cfg.OS != "linux" || cfg.Architecture != tc.arch || cfg.Variant != tc.variant {
				t.Fatalf("platform: got %s/%s/%s, want linux/%s/%s", cfg.OS, cfg.Architecture, cfg.Variant, tc.arch, tc.variant)
			}
			if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/sitepulse-agent" || strings.HasPrefix(cfg.Config.User, "0") || cfg.Config.User == "" {
				t.Fatalf("entrypoint %q user %q", cfg.Config.Entrypoint, cfg.Config.User)
			}
			layer := readTarBytes(t, files[manifest[0].Layers[0]])
			for _, want := range []string{"usr/local/bin/sitepulse-agent", "etc/ssl/certs/ca-certificates.crt", "etc/passwd"} {
				if _, ok := layer[want]; !ok {
					t.Fatalf("layer lacks %s", want)
				}
			}
			if tc.goarch == "amd64" {
				exe := filepath.Join(dir, "extracted-agent")
				if err := os.WriteFile(exe, layer["usr/local/bin/sitepulse-agent"], 0o755); err != nil {
					t.Fatal(err)
				}
				got, err := exec.Command(exe, "--version").CombinedOutput()
				if err != nil || !strings.Contains(string(got), "sitepulse-agent") {
					t.Fatalf("--version: %v: %s", err, got)
				}
			}
		})
	}
}

func build2(bin, platform, out string) error {
	return build(bin, platform, out, "sitepulse/agent:test", "/etc/ssl/certs/ca-certificates.crt", "")
}

func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return readTarBytes(t, b)
}

func readTarBytes(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(string(b)))
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = body
	}
}

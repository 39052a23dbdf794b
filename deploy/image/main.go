// Command image builds the agent's container images without Docker: one
// single-platform docker-save tar per architecture, the format RouterOS's
// /container/add file=… imports. Each image holds only the static agent
// binary, CA certificates and a passwd entry for a non-root user.
//
//	go run ./deploy/image --binary bin/cross/sitepulse-agent-linux-arm64 --platform linux/arm64 --out dist/sitepulse-agent-arm64.tar
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// nonRootUID is the agent's user inside the image (distroless's "nonroot").
const nonRootUID = 65532

func main() {
	var (
		binary   = flag.String("binary", "", "static agent binary to put at /usr/local/bin/sitepulse-agent")
		platform = flag.String("platform", "linux/amd64", "image platform: linux/amd64, linux/arm64 or linux/arm/v7")
		out      = flag.String("out", "", "output docker-save tar")
		tag      = flag.String("tag", "sitepulse/agent:dev", "image reference recorded in the tar")
		caFile   = flag.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include")
		created  = flag.String("created", "", "image creation time, RFC 3339 (empty = Unix epoch, for reproducible images)")
	)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := build(*binary, *platform, *out, *tag, *caFile, *created); err != nil {
		log.Error("build image", "err", err)
		os.Exit(1)
	}
	log.Info("image written", "out", *out, "platform", *platform, "tag", *tag)
}

func build(binary, platform, out, tag, caFile, created string) error {
	if binary == "" || out == "" {
		return fmt.Errorf("--binary and --out are required")
	}
	plat, err := v1.ParsePlatform(platform)
	if err != nil {
		return fmt.Errorf("platform %q: %w", platform, err)
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("read binary: %w", err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("read CA bundle: %w", err)
	}
	var when time.Time
	if created != "" {
		if when, err = time.Parse(time.RFC3339, created); err != nil {
			return fmt.Errorf("--created: %w", err)
		}
	}
	layerTar, err := rootfs(bin, ca, when)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	})
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = plat.OS, plat.Architecture, plat.Variant
	cfg.Created = v1.Time{Time: when}
	cfg.Config.Entrypoint = []string{"/usr/local/bin/sitepulse-agent"}
	cfg.Config.Cmd = []string{"run"}
	cfg.Config.User = fmt.Sprintf("%d:%d", nonRootUID, nonRootUID)
	cfg.Config.WorkingDir = "/data"
	cfg.Config.Env = []string{
		"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		"SITEPULSE_DATA_DIR=/data",
	}
	cfg.Config.Volumes = map[string]struct{}{"/data": {}}
	cfg.Config.Labels = map[string]string{"org.opencontainers.image.title": "sitepulse-agent"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return fmt.Errorf("set config: %w", err)
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("tag %q: %w", tag, err)
	}
	if err := writeDockerSave(out, ref, img, layerTar); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// writeDockerSave writes img as `docker save` does: manifest.json, the
// config blob and each layer uncompressed at <diffid>/layer.tar. We write it
// ourselves rather than with tarball.Write, which gzips layers, because
// RouterOS's importer is documented against docker save output.
func writeDockerSave(out string, ref name.Tag, img v1.Image, layerTar []byte) error {
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cfgBlob, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != 1 {
		return fmt.Errorf("want one layer, have %d", len(cfg.RootFS.DiffIDs))
	}
	layerPath := cfg.RootFS.DiffIDs[0].Hex + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   cfgName.Hex + ".json",
		"RepoTags": []string{ref.String()},
		"Layers":   []string{layerPath},
	}})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		body []byte
	}{
		{cfgName.Hex + ".json", cfgBlob},
		{layerPath, layerTar},
		{"manifest.json", manifest},
	} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.body))}); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(e.body); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rootfs is the image's only layer.
func rootfs(bin, ca []byte, when time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, Uid: uid, Gid: uid, ModTime: when})
	}
	file := func(name string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: when}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/data:/sbin/nologin\n", nonRootUID, nonRootUID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonRootUID)
	steps := []func() error{
		func() error { return dir("etc/", 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("etc/ssl/", 0) },
		func() error { return dir("etc/ssl/certs/", 0) },
		func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, ca) },
		func() error { return dir("usr/", 0) },
		func() error { return dir("usr/local/", 0) },
		func() error { return dir("usr/local/bin/", 0) },
		func() error { return file("usr/local/bin/sitepulse-agent", 0o755, bin) },
		func() error { return dir("tmp/", 0) },
		func() error { return dir("data/", nonRootUID) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("rootfs: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	return buf.Bytes(), nil
}

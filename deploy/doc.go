// Package deploy holds no code of its own: it is the home of the
// deployment files (systemd units, compose, Kubernetes manifests,
// Dockerfiles) and of the tests that keep them valid. The image builder
// lives in deploy/image.
package deploy

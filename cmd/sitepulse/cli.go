package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane/store"
)

// newCLI builds the command tree: the server's commands (serve, migrate,
// version) and the field tech's (fieldCommands), which talk to a running
// control plane through package client.
func newCLI(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "sitepulse",
		Usage:     "SitePulse control plane",
		Version:   Version,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Category: "Logging", Value: "info", Usage: "debug, info, warn or error", Sources: cli.EnvVars("SITEPULSE_LOG_LEVEL")},
			&cli.StringFlag{Name: "log-format", Category: "Logging", Value: "text", Usage: "text or json", Sources: cli.EnvVars("SITEPULSE_LOG_FORMAT")},
		},
		Commands: append([]*cli.Command{
			serveCommand(stdout, stderr),
			migrateCommand(stderr),
			versionCommand(stdout),
		}, fieldCommands()...),
	}
}

// storeFlags select the database; serve and migrate share them.
func storeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "data-dir", Category: "Database", Value: "./data", Usage: "directory of the SQLite database", Sources: cli.EnvVars("SITEPULSE_DATA_DIR")},
		&cli.StringFlag{Name: "database-url", Category: "Database", Usage: "PostgreSQL URL (postgres://…); empty means SQLite in --data-dir", Sources: cli.EnvVars("SITEPULSE_DATABASE_URL")},
	}
}

func serveCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the control plane: API, realtime hub and MQTT broker",
		Description: "First start: when the store has no user yet, serve creates one system admin,\n" +
			"--admin-email (SITEPULSE_ADMIN_EMAIL, default admin@localhost) with the password in\n" +
			"SITEPULSE_ADMIN_PASSWORD. Without a password it generates one and prints it once\n" +
			"to standard output (not the log). Later starts ignore both: change users through\n" +
			"the API or the dashboard.",
		Flags: append(append(append(append(append(append(append(storeFlags(), provisioningFlags()...), billingFlags()...), notifyFlags()...), webhooksFlags()...), pusherWebhookFlags()...), roleFlags()...),
			&cli.StringFlag{Name: "http-addr", Category: "HTTP", Value: "127.0.0.1:8080", Usage: "API, realtime and metrics listener", Sources: cli.EnvVars("SITEPULSE_HTTP_ADDR")},
			&cli.StringFlag{Name: "mqtt-addr", Category: "MQTT", Value: "127.0.0.1:1883", Usage: "MQTT TCP listener; empty disables it", Sources: cli.EnvVars("SITEPULSE_MQTT_ADDR")},
			&cli.StringFlag{Name: "mqtt-tls-addr", Category: "MQTT", Usage: "MQTT TLS listener, e.g. :8883; needs --mqtt-tls-cert and --mqtt-tls-key", Sources: cli.EnvVars("SITEPULSE_MQTT_TLS_ADDR")},
			&cli.StringFlag{Name: "mqtt-tls-cert", Category: "MQTT", Usage: "PEM certificate (chain) file for the MQTT TLS listener", Sources: cli.EnvVars("SITEPULSE_MQTT_TLS_CERT")},
			&cli.StringFlag{Name: "mqtt-tls-key", Category: "MQTT", Usage: "PEM private key file for the MQTT TLS listener", Sources: cli.EnvVars("SITEPULSE_MQTT_TLS_KEY")},
			&cli.StringFlag{Name: "mqtt-url", Category: "MQTT", Usage: "external broker for scale-out, tcp://user:pass@host:1883 or ssl://…; replaces the embedded broker (--mqtt-addr and the TLS listener are not used)", Sources: cli.EnvVars("SITEPULSE_MQTT_URL")},
			&cli.StringFlag{Name: "mqtt-ca", Category: "MQTT", Usage: "PEM CA bundle verifying the external broker (ssl:// --mqtt-url)", Sources: cli.EnvVars("SITEPULSE_MQTT_CA")},
			&cli.StringFlag{Name: "mqtt-client-id", Category: "MQTT", Usage: "this replica's MQTT client id at the external broker: unique per replica, stable across restarts (default sitepulse-HOSTNAME)", Sources: cli.EnvVars("SITEPULSE_MQTT_CLIENT_ID")},
			&cli.StringFlag{Name: "mqtt-share-group", Category: "MQTT", Value: "sitepulse", Usage: "shared-subscription group the replicas split ingest in", Sources: cli.EnvVars("SITEPULSE_MQTT_SHARE_GROUP")},
			&cli.StringFlag{Name: "public-mqtt-url", Category: "MQTT", Usage: "broker URL agents dial, shown when enrolling a router (default tcp://HOST:1883)", Sources: cli.EnvVars("SITEPULSE_PUBLIC_MQTT_URL")},
			&cli.StringFlag{Name: "pusher-app-id", Category: "Realtime", Value: "sitepulse", Usage: "Pusher app id served by the realtime hub", Sources: cli.EnvVars("SITEPULSE_PUSHER_APP_ID")},
			&cli.StringFlag{Name: "pusher-key", Category: "Realtime", Value: "sitepulse", Usage: "Pusher app key dashboards connect with", Sources: cli.EnvVars("SITEPULSE_PUSHER_KEY")},
			&cli.StringFlag{Name: "pusher-secret", Category: "Realtime", Usage: "Pusher app secret; prefer SITEPULSE_PUSHER_SECRET or --pusher-secret-file (empty: random per process)", Sources: cli.EnvVars("SITEPULSE_PUSHER_SECRET")},
			&cli.StringFlag{Name: "pusher-secret-file", Category: "Realtime", Usage: "file holding the Pusher app secret", Sources: cli.EnvVars("SITEPULSE_PUSHER_SECRET_FILE")},
			&cli.IntFlag{Name: "mqtt-max-clients", Category: "MQTT", Value: 20000, Usage: "embedded broker: most agents connected at once (0: no limit)", Sources: cli.EnvVars("SITEPULSE_MQTT_MAX_CLIENTS")},
			&cli.BoolFlag{Name: "pusher-subscription-count", Category: "Realtime", Value: true, Usage: "send pusher_internal:subscription_count to a channel's subscribers when its count changes (at most every 5 s above 100 subscribers, as Pusher)", Sources: cli.EnvVars("SITEPULSE_PUSHER_SUBSCRIPTION_COUNT")},
			&cli.BoolFlag{Name: "pusher-client-events", Category: "Realtime", Usage: "allow client-* events on private and presence channels (Pusher's client events; off by default)", Sources: cli.EnvVars("SITEPULSE_PUSHER_CLIENT_EVENTS")},
			&cli.StringFlag{Name: "admin-email", Category: "First start", Usage: "first start only: email of the system admin created in an empty store (default admin@localhost)", Sources: cli.EnvVars("SITEPULSE_ADMIN_EMAIL")},
			&cli.StringFlag{Name: "admin-password", Category: "First start", Usage: "first start only: that admin's password; set it through the environment (ps shows arguments); empty: generated and printed once", Sources: cli.EnvVars("SITEPULSE_ADMIN_PASSWORD")},
			&cli.DurationFlag{Name: "shutdown-timeout", Category: "HTTP", Value: 15 * time.Second, Usage: "bound on graceful shutdown", Sources: cli.EnvVars("SITEPULSE_SHUTDOWN_TIMEOUT")},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			logger, err := newLogger(stderr, cmd.String("log-level"), cmd.String("log-format"))
			if err != nil {
				return err
			}
			secret := cmd.String("pusher-secret")
			if f := cmd.String("pusher-secret-file"); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("pusher secret: %w", err)
				}
				secret = strings.TrimSpace(string(b))
			}
			webhooks, err := pusherWebhookOptions(cmd)
			if err != nil {
				return err
			}
			roles, queueWorkers, err := roleOptions(cmd)
			if err != nil {
				return err
			}
			m := NewMain(Config{
				HTTPAddr:    cmd.String("http-addr"),
				MQTTAddr:    cmd.String("mqtt-addr"),
				MQTTTLSAddr: cmd.String("mqtt-tls-addr"),
				MQTTTLSCert: cmd.String("mqtt-tls-cert"),
				MQTTTLSKey:  cmd.String("mqtt-tls-key"),
				External: ExternalMQTT{
					URL:        cmd.String("mqtt-url"),
					CAFile:     cmd.String("mqtt-ca"),
					ClientID:   cmd.String("mqtt-client-id"),
					ShareGroup: cmd.String("mqtt-share-group"),
				},
				PublicMQTTURL:       cmd.String("public-mqtt-url"),
				DataDir:             cmd.String("data-dir"),
				DatabaseURL:         cmd.String("database-url"),
				PusherAppID:         cmd.String("pusher-app-id"),
				PusherKey:           cmd.String("pusher-key"),
				PusherSecret:        secret,
				MQTTMaxClients:      int(cmd.Int("mqtt-max-clients")),
				ClientEvents:        cmd.Bool("pusher-client-events"),
				NoSubscriptionCount: !cmd.Bool("pusher-subscription-count"),
				PusherWebhooks:      webhooks,
				Roles:               roles,
				QueueWorkers:        queueWorkers,
				AdminEmail:          cmd.String("admin-email"),
				AdminPassword:       cmd.String("admin-password"),
				ShutdownTimeout:     cmd.Duration("shutdown-timeout"),
				Provisioning:        provisioningOptions(cmd),
				Billing:             billingConfig(cmd),
				Notify:              notifyConfig(cmd),
				Webhooks:            webhooksConfig(cmd),
				Logger:              logger,
				Stdout:              stdout,
			})
			if err := m.Run(ctx); err != nil {
				return err
			}
			<-ctx.Done()
			logger.Info("shutting down", slog.Duration("timeout", m.Config.ShutdownTimeout))
			return m.Close()
		},
	}
}

func migrateCommand(stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "apply database migrations and exit",
		Flags: storeFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			logger, err := newLogger(stderr, cmd.String("log-level"), cmd.String("log-format"))
			if err != nil {
				return err
			}
			// Open applies pending migrations; Migrate again is a no-op that
			// makes the intent explicit.
			s, err := store.Open(ctx, store.Options{DataDir: cmd.String("data-dir"), DatabaseURL: cmd.String("database-url"), Logger: logger})
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			logger.Info("migrations applied", slog.String("store", s.Dialect()))
			return nil
		},
	}
}

func versionCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version",
		Action: func(context.Context, *cli.Command) error {
			_, err := fmt.Fprintf(stdout, "sitepulse %s %s %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}

// newLogger builds the process logger: text for people, json for log
// shippers.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

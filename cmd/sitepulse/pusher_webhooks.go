package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/sitepulse/sitepulse/controlplane/pusher"
)

// pusherWebhookFlags configure Pusher webhooks (see pusher.WebhookOptions).
func pusherWebhookFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "pusher-webhook-url", Category: "Realtime", Usage: "URL receiving Pusher webhooks (channel_occupied, member_added, client_event…), signed with the Pusher secret; repeatable (comma-separated in the environment)", Sources: cli.EnvVars("SITEPULSE_PUSHER_WEBHOOK_URL")},
		&cli.StringSliceFlag{Name: "pusher-webhook-events", Category: "Realtime", Usage: "send only these webhook events (" + strings.Join(pusher.WebhookEventNames, ", ") + "; default all)", Sources: cli.EnvVars("SITEPULSE_PUSHER_WEBHOOK_EVENTS")},
	}
}

// pusherWebhookOptions reads pusherWebhookFlags, refusing URLs that are not
// absolute http(s) and unknown event names.
func pusherWebhookOptions(cmd *cli.Command) (pusher.WebhookOptions, error) {
	return parsePusherWebhooks(cmd.StringSlice("pusher-webhook-url"), cmd.StringSlice("pusher-webhook-events"))
}

func parsePusherWebhooks(urls, events []string) (pusher.WebhookOptions, error) {
	var o pusher.WebhookOptions
	for _, raw := range urls {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("--pusher-webhook-url %q: want an absolute http:// or https:// URL", raw)
		}
		o.URLs = append(o.URLs, raw)
	}
	for _, e := range events {
		if e = strings.TrimSpace(e); e != "" {
			o.Events = append(o.Events, e)
		}
	}
	if err := pusher.ValidateWebhookEvents(o.Events); err != nil {
		return o, fmt.Errorf("--pusher-webhook-events: %w", err)
	}
	return o, nil
}

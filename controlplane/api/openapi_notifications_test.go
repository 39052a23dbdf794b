package api_test

import (
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
)

func TestOpenAPINotificationSchemas(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)
	for name, v := range map[string]any{
		"Notification":              controlplane.Notification{},
		"NotificationPage":          controlplane.NotificationPage{},
		"NotificationSettings":      controlplane.NotificationSettings{},
		"NotificationSettingsPatch": controlplane.NotificationSettingsPatch{},
	} {
		checkSchema(t, doc, name, v)
	}
}

package controlplane

// PusherConfig is what a Pusher client (pusher-js, Laravel Echo) needs to
// connect to the realtime hub. Nothing in it is secret.
type PusherConfig struct {
	Key   string `json:"key"`
	AppID string `json:"app_id"`
	// Host, Port and TLS are omitted when the hub is on the same origin as
	// the API, which is how sitepulse serve runs it.
	Host string `json:"host,omitempty"`
	Port int    `json:"port,omitempty"`
	TLS  *bool  `json:"tls,omitempty"`
}

// ClientConfig answers GET /api/v1/config.
type ClientConfig struct {
	Pusher *PusherConfig `json:"pusher"` // null when realtime is off
}

package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sitepulse/sitepulse/controlplane"
	"github.com/sitepulse/sitepulse/controlplane/api"
	"github.com/sitepulse/sitepulse/controlplane/store"
	"github.com/sitepulse/sitepulse/protocol"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]openAPISchema   `json:"schemas"`
		Parameters map[string]openAPIParam    `json:"parameters"`
		Responses  map[string]json.RawMessage `json:"responses"`
	} `json:"components"`
}

type openAPISchema struct {
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
}

type openAPIParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

type openAPIOp struct {
	OperationID string            `json:"operationId"`
	Parameters  []openAPIParam    `json:"parameters"`
	Security    *[]map[string]any `json:"security"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(t *testing.T, raw []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every registered route is documented with its
// method, path parameters and security, and every documented operation is
// routed by the live server.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, store.Options{DataDir: t.TempDir()})
	served := e.do("GET", "/api/openapi.json", "", nil)
	served.want(t, http.StatusOK, nil)
	doc := loadOpenAPI(t, served.body)

	routes := map[string]api.Route{}
	for _, r := range e.server.Routes() {
		routes[strings.ToLower(r.Method)+" "+r.Path] = r
	}
	documented := map[string]bool{}
	opIDs := map[string]bool{}
	wildcard := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !slices.Contains(httpMethods, method) {
				continue
			}
			key := method + " " + path
			documented[key] = true
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if op.OperationID == "" || opIDs[op.OperationID] {
				t.Errorf("%s: operationId %q missing or duplicated", key, op.OperationID)
			}
			opIDs[op.OperationID] = true

			rt, ok := routes[key]
			if !ok {
				t.Errorf("documented %s is not routed", key)
				continue
			}
			public := op.Security != nil && len(*op.Security) == 0
			if public != rt.Public {
				t.Errorf("%s: documented public=%v, routed public=%v", key, public, rt.Public)
			}

			var wantParams, gotParams []string
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				wantParams = append(wantParams, m[1])
			}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					p = doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				}
				if p.In == "path" {
					gotParams = append(gotParams, p.Name)
				}
			}
			sort.Strings(wantParams)
			sort.Strings(gotParams)
			if !slices.Equal(wantParams, gotParams) {
				t.Errorf("%s: path parameters documented %v, want %v", key, gotParams, wantParams)
			}

			// The live mux routes it: an anonymous call reaches the handler
			// (401 from auth), not the mux's 404/405.
			url := wildcard.ReplaceAllString(path, "1")
			r := e.do(strings.ToUpper(method), url, "", nil)
			var eb controlplane.ErrorBody
			_ = json.Unmarshal(r.body, &eb)
			if r.status == http.StatusMethodNotAllowed || eb.Error.Message == "no such endpoint" {
				t.Errorf("documented %s: live server answers %d %s", key, r.status, r.body)
			}
			if !rt.Public && r.status != http.StatusUnauthorized {
				t.Errorf("%s without a token: status %d, want 401", key, r.status)
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}

	// Every $ref resolves.
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/(schemas|parameters|responses)/([A-Za-z]+)"`)
	for _, m := range refs.FindAllStringSubmatch(string(api.OpenAPI), -1) {
		var ok bool
		switch m[1] {
		case "schemas":
			_, ok = doc.Components.Schemas[m[2]]
		case "parameters":
			_, ok = doc.Components.Parameters[m[2]]
		case "responses":
			_, ok = doc.Components.Responses[m[2]]
		}
		if !ok {
			t.Errorf("unresolved $ref %s/%s", m[1], m[2])
		}
	}
}

// TestOpenAPISchemasMatchGoTypes: each documented schema lists exactly
// the JSON fields of the Go type the API encodes or decodes.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t, api.OpenAPI)
	for name, v := range map[string]any{
		"Error":               controlplane.ErrorBody{},
		"Tenant":              controlplane.Tenant{},
		"User":                controlplane.User{},
		"Resources":           protocol.Resources{},
		"Router":              controlplane.Router{},
		"Session":             controlplane.Session{},
		"SessionRecord":       controlplane.SessionRecord{},
		"AuditEntry":          controlplane.AuditEntry{},
		"TokenInfo":           controlplane.TokenInfo{},
		"LoginRequest":        controlplane.LoginRequest{},
		"LoginResponse":       controlplane.LoginResponse{},
		"MeResponse":          controlplane.MeResponse{},
		"CreateTokenRequest":  controlplane.CreateTokenRequest{},
		"CreateTokenResponse": controlplane.CreateTokenResponse{},
		"CreateTenantRequest": controlplane.CreateTenantRequest{},
		"Accepted":            controlplane.Accepted{},
		"CreateUserRequest":   controlplane.CreateUserRequest{},
		"UpdateUserRequest":   controlplane.UpdateUserRequest{},
		"CreateRouterRequest": controlplane.CreateRouterRequest{},
		"RouterSecret":        controlplane.RouterSecret{},
		"Stats":               controlplane.Stats{},
		"LoginBucket":         controlplane.LoginBucket{},
		"LoginSeries":         controlplane.LoginSeries{},
		"SystemStats":         controlplane.SystemStats{},
		"PusherConfig":        controlplane.PusherConfig{},
		"ClientConfig":        controlplane.ClientConfig{},
		"TenantList":          controlplane.List[controlplane.Tenant]{},
		"SessionPage":         controlplane.Page[controlplane.Session]{},
		"AuditPage":           controlplane.AuditPage{},
	} {
		checkSchema(t, doc, name, v)
	}
	for name, v := range billingSchemas {
		checkSchema(t, doc, name, v)
	}
}

// billingSchemas are the documented billing types: their schemas match
// the Go types, and no money in them is ever a number.
var billingSchemas = map[string]any{
	"Money":                controlplane.Money{},
	"Plan":                 controlplane.Plan{},
	"PlanRouter":           controlplane.PlanRouter{},
	"PlanRequest":          controlplane.PlanRequest{},
	"PlanPatch":            controlplane.PlanPatch{},
	"PlanPage":             controlplane.Page[controlplane.Plan]{},
	"Customer":             controlplane.Customer{},
	"CustomerRequest":      controlplane.CustomerRequest{},
	"CustomerPage":         controlplane.Page[controlplane.Customer]{},
	"Subscription":         controlplane.Subscription{},
	"SubscriptionPage":     controlplane.Page[controlplane.Subscription]{},
	"PurchaseRequest":      controlplane.PurchaseRequest{},
	"PurchaseResult":       controlplane.PurchaseResult{},
	"Credentials":          controlplane.Credentials{},
	"Payment":              controlplane.Payment{},
	"PaymentPage":          controlplane.Page[controlplane.Payment]{},
	"ManualPaymentRequest": controlplane.ManualPaymentRequest{},
	"Callback":             controlplane.Callback{},
	"CallbackPage":         controlplane.Page[controlplane.Callback]{},
	"BillingSettings":      controlplane.BillingSettings{},
	"BillingSettingsPatch": controlplane.BillingSettingsPatch{},
	"BillingStats":         controlplane.BillingStats{},
	"PortalSettings":       controlplane.PortalSettings{},
	"PortalSettingsPatch":  controlplane.PortalSettingsPatch{},
	"Voucher":              controlplane.Voucher{},
	"VoucherPage":          controlplane.Page[controlplane.Voucher]{},
	"VoucherBatch":         controlplane.VoucherBatch{},
	"VoucherBatchPage":     controlplane.Page[controlplane.VoucherBatch]{},
	"VoucherBatchRequest":  controlplane.VoucherBatchRequest{},
	"RedeemRequest":        controlplane.RedeemRequest{},
	"Redemption":           controlplane.Redemption{},

	"WebhookEndpoint":        controlplane.WebhookEndpoint{},
	"WebhookDelivery":        controlplane.WebhookDelivery{},
	"WebhookDeliveryAttempt": controlplane.WebhookDeliveryAttempt{},
	"WebhookEndpointRequest": controlplane.WebhookEndpointRequest{},
	"WebhookEndpointPatch":   controlplane.WebhookEndpointPatch{},
	"WebhookEndpointCreated": controlplane.WebhookEndpointCreated{},
	"WebhookSecret":          controlplane.WebhookSecret{},
	"WebhookDeliveryPage":    controlplane.WebhookDeliveryPage{},
}

// TestOpenAPIMoneyIsNeverANumber: no billing schema has a number anywhere in it
// (money is integer minor units), and no billing Go type has a float
// field, however deep.
func TestOpenAPIMoneyIsNeverANumber(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range billingSchemas {
		var schema any
		if err := json.Unmarshal(doc.Components.Schemas[name], &schema); err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
		for _, path := range numberTypes(schema, name) {
			t.Errorf("%s is a number; money and counts are integers", path)
		}
		for _, path := range floatFields(reflect.TypeOf(v), name, map[reflect.Type]bool{}) {
			t.Errorf("Go field %s is a float", path)
		}
	}
	// The checks themselves find what they look for.
	if got := numberTypes(map[string]any{"properties": map[string]any{"price": map[string]any{"type": []any{"number", "null"}}}}, "X"); len(got) != 1 {
		t.Errorf("numberTypes of a nullable number found %v", got)
	}
	if got := floatFields(reflect.TypeOf(struct{ P *struct{ F []float64 } }{}), "X", map[reflect.Type]bool{}); len(got) != 1 {
		t.Errorf("floatFields of a nested float found %v", got)
	}
}

// numberTypes returns the paths in schema whose type is or includes
// "number".
func numberTypes(schema any, path string) []string {
	var out []string
	switch v := schema.(type) {
	case map[string]any:
		switch ty := v["type"].(type) {
		case string:
			if ty == "number" {
				out = append(out, path)
			}
		case []any:
			if slices.Contains(ty, any("number")) {
				out = append(out, path)
			}
		}
		for k, sub := range v {
			out = append(out, numberTypes(sub, path+"."+k)...)
		}
	case []any:
		for i, sub := range v {
			out = append(out, numberTypes(sub, path+"["+strconv.Itoa(i)+"]")...)
		}
	}
	return out
}

// floatFields returns the fields of t (through pointers, slices, maps and
// structs) that are floats.
func floatFields(t reflect.Type, path string, seen map[reflect.Type]bool) []string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		return []string{path}
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return floatFields(t.Elem(), path+"[]", seen)
	case reflect.Map:
		return floatFields(t.Elem(), path+"{}", seen)
	case reflect.Struct:
		if seen[t] {
			return nil
		}
		seen[t] = true
		var out []string
		for f := range t.Fields() {
			out = append(out, floatFields(f.Type, path+"."+f.Name, seen)...)
		}
		return out
	}
	return nil
}

// checkSchema asserts that the documented schema name lists exactly the
// JSON fields of v's Go type.
func checkSchema(t *testing.T, doc openAPIDoc, name string, v any) {
	t.Helper()
	s, ok := doc.Components.Schemas[name]
	if !ok {
		t.Errorf("schema %s missing", name)
		return
	}
	var got []string
	for p := range s.Properties {
		got = append(got, p)
	}
	want := jsonFields(reflect.TypeOf(v))
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("schema %s properties %v, Go type has %v", name, got, want)
	}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			t.Errorf("schema %s requires unknown property %s", name, r)
		}
	}
}

// jsonFields lists the JSON object keys encoding/json uses for t,
// flattening embedded structs.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

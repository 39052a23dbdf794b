package controlplane

// AuditPage is one page of the audit log, newest first. The store does not
// count entries, so there is no total: fetch until a short page.
type AuditPage struct {
	Data   []AuditEntry `json:"data"`
	Limit  int          `json:"limit"`
	Offset int          `json:"offset"`
}

package controlplane

// List is the envelope of an unpaginated collection.
type List[T any] struct {
	Data []T `json:"data"`
}

// Page is the envelope of a paginated collection: Total counts every match,
// Data holds at most Limit of them starting at Offset.
type Page[T any] struct {
	Data   []T `json:"data"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

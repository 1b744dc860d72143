package podlogs

import (
	"net/url"
	"strconv"

	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RegisterQueryConversion registers in s the conversion of a log request's
// query string into its options T, which the endpoint's parameter codec
// needs to decode ?follow=&tailLines=... into T. It panics if s refuses.
func RegisterQueryConversion[T any](s *runtime.Scheme, fromQuery func(url.Values, *T) error) {
	if err := s.AddConversionFunc((*url.Values)(nil), (*T)(nil), func(a, b interface{}, _ conversion.Scope) error {
		return fromQuery(*a.(*url.Values), b.(*T))
	}); err != nil {
		panic(err)
	}
}

// Query reads the typed parameters of a log request's query string
// (pods/log, builds/log), collecting what does not parse into Errs.
type Query struct {
	Values url.Values
	Errs   field.ErrorList
}

// String returns the first value of key, or "".
func (q *Query) String(key string) string { return q.Values.Get(key) }

// Bool returns key as a boolean; absent is false.
func (q *Query) Bool(key string) bool {
	v, ok := q.Values[key]
	if !ok || len(v) == 0 {
		return false
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		q.Errs = append(q.Errs, field.Invalid(field.NewPath(key), v[0], "must be true or false"))
	}
	return b
}

// Int returns key as an integer; absent is nil.
func (q *Query) Int(key string) *int64 {
	v, ok := q.Values[key]
	if !ok || len(v) == 0 {
		return nil
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil {
		q.Errs = append(q.Errs, field.Invalid(field.NewPath(key), v[0], "must be an integer"))
		return nil
	}
	return &n
}

// Err is the collected parse errors as one error, or nil.
func (q *Query) Err() error {
	if len(q.Errs) == 0 {
		return nil
	}
	return q.Errs.ToAggregate()
}

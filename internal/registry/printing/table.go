// Package printing turns stored objects into the metav1.Table rows that
// kubectl and oc print, so the server decides the columns as Kubernetes does.
package printing

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// NameColumn is the first column of every table: the object's name.
var NameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."}

// AgeColumn is the CreationTimestamp column most tables end with.
var AgeColumn = metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: "CreationTimestamp is the time the object was created."}

// Age formats the time elapsed since t the way kubectl does ("5m", "3d"),
// "<unknown>" when t is unset.
func Age(t metav1.Time) string {
	return Since(t, time.Now())
}

// Since formats the time elapsed from t to now like Age.
func Since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// TableConvertor converts single objects of type T, and lists of them, into
// tables with Columns; Cells returns one row's cells in column order.
type TableConvertor[T runtime.Object] struct {
	Columns []metav1.TableColumnDefinition
	Cells   func(obj T) []interface{}
}

// ConvertToTable implements rest.TableConvertor.
func (c TableConvertor[T]) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = c.Columns
	}

	var items []runtime.Object
	if meta.IsListType(obj) {
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, fmt.Errorf("extracting list items for a table: %w", err)
		}
		if list, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = list.GetResourceVersion()
			table.Continue = list.GetContinue()
			table.RemainingItemCount = list.GetRemainingItemCount()
		}
	} else {
		items = []runtime.Object{obj}
		if accessor, err := meta.Accessor(obj); err == nil {
			table.ResourceVersion = accessor.GetResourceVersion()
		}
	}

	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		typed, ok := item.(T)
		if !ok {
			return nil, fmt.Errorf("cannot convert %T to a table row", item)
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  c.Cells(typed),
			Object: runtime.RawExtension{Object: item},
		})
	}
	return table, nil
}

package audittest_test

import (
	"context"
	"testing"

	"github.com/coffre/coffre/audit"
	"github.com/coffre/coffre/audit/audittest"
)

func TestStore(t *testing.T) {
	audittest.TestStore(t, func(t *testing.T) audittest.Harness {
		s := audittest.NewStore()
		return audittest.Harness{Store: s, Add: func(ctx context.Context, entries ...*audit.Entry) error {
			for _, e := range entries {
				s.Add(e)
			}
			return nil
		}}
	})
}

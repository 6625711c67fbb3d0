package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jobstatus/jobstatus/adapters/postgres"
	"github.com/jobstatus/jobstatus/domain"
	"github.com/jobstatus/jobstatus/test/pgtest"
)

// TestQueriesAreTraced: with a tracer provider, each query of a traced
// request is a child span carrying the database system; a query outside
// any trace (the sweeper's) makes no span.
func TestQueriesAreTraced(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	pool := pgtest.Pool(2)
	pool.Tracer = tp
	db, err := postgres.Open(pg.Schema(t), pool)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	jobs, err := postgres.NewJobs(db, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = jobs.Close() })

	_, err = jobs.Get(context.Background(), domain.NewID())
	require.ErrorIs(t, err, domain.ErrNotFound)
	require.Empty(t, exp.GetSpans(), "no root spans for untraced queries")

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	_, err = jobs.Get(ctx, domain.NewID())
	require.ErrorIs(t, err, domain.ErrNotFound)
	parent.End()
	var queries int
	for _, s := range exp.GetSpans() {
		if s.Name == "request" {
			continue
		}
		require.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID(), "span %s", s.Name)
		queries++
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		require.Equal(t, "postgresql", attrs["db.system.name"], "span %s: %v", s.Name, attrs)
	}
	require.Positive(t, queries, "the query has its span")
}

// TestReadSchema: a database never migrated is version 0 with every
// embedded migration pending; migrated, nothing is pending.
func TestReadSchema(t *testing.T) {
	t.Parallel()
	pgtest.Skip(t, pg)
	db := openBare(t, 1)
	ctx := context.Background()
	versions := postgres.EmbeddedVersions()
	s, err := postgres.ReadSchema(ctx, db)
	require.NoError(t, err)
	require.Equal(t, postgres.Schema{Current: 0, Expected: versions[len(versions)-1], Pending: versions}, s)
	require.Error(t, s.Ready())
	_, err = postgres.Migrate(ctx, db)
	require.NoError(t, err)
	s, err = postgres.ReadSchema(ctx, db)
	require.NoError(t, err)
	require.Equal(t, versions, s.Applied)
	require.Empty(t, s.Pending)
	require.NoError(t, s.Ready())
}

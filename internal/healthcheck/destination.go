package healthcheck

import (
	"context"
	"errors"
)

// CategoryDestination is the destination service's category.
const CategoryDestination = "destination"

// DestinationEnv is what the destination checks reach.
type DestinationEnv struct {
	// Addr is the destination service's host:port; "" when not given.
	Addr string
	// List asks the destination service for its workloads and returns
	// how many it knows.
	List func(ctx context.Context) (int, error)
	// Watch opens a watch and returns once the first answer came.
	Watch func(ctx context.Context) error
}

// Destination returns the destination service's checks: reachable (it
// answers ListWorkloads) and watching (a Watch gets its first answer).
func Destination(env DestinationEnv) Category {
	return Category{Name: CategoryDestination, Checkers: []Checker{
		{
			Description: "destination service is reachable",
			Hint:        "start meshlite-destination, or check --destination (and meshctl's identity: the service speaks mutual TLS unless --insecure)",
			Fatal:       true,
			Check: func(ctx context.Context) error {
				if env.Addr == "" {
					return Warn(errors.New("not checked: no --destination given"))
				}
				_, err := env.List(ctx)
				return err
			},
		},
		{
			Description: "destination service answers watches",
			Hint:        "meshlite-destination logs why a watch fails; proxies keep their last endpoints meanwhile",
			Check:       env.Watch,
		},
	}}
}

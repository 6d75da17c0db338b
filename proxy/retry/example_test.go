package retry_test

import (
	"fmt"
	"net/http/httptest"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/retry"
)

func Example() {
	pol, err := retry.Compile(&destinationv1.Retry{Attempts: 2, RetryOn: []string{"5xx"}})
	if err != nil {
		panic(err)
	}
	budget := retry.NewBudget(retry.BudgetConfig{})
	req := httptest.NewRequest("GET", "/items", nil)
	budget.Deposit()

	resp := httptest.NewRecorder()
	resp.WriteHeader(503)
	fmt.Println(pol.ShouldRetry(1, req, resp.Result(), nil) && budget.Withdraw())
	// Output: true
}

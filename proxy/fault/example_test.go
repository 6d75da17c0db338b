package fault_test

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/fault"
)

func Example() {
	f, err := fault.Compile(&destinationv1.Fault{
		Delay: &destinationv1.Fault_Delay{FixedDelay: durationpb.New(2 * time.Second), Percentage: 100},
		Abort: &destinationv1.Fault_Abort{HttpStatus: 503, Percentage: 0},
	})
	if err != nil {
		panic(err)
	}
	delay, status, _ := f.Decide(nil)
	fmt.Println(delay, status)
	// Output: 2s 0
}

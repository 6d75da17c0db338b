// Package apps holds the demo's small applications, each a plain program
// that knows nothing of the mesh:
//
//   - web: an HTTP/1.1 frontend; GET /users/{id} calls the user service
//     over gRPC (passing the caller's "x-version" header on as the gRPC
//     metadata "version"), GET /cache/{key} asks the cache, GET /fail
//     fails on purpose with 500;
//   - users: the gRPC user service, answering with its version and name;
//   - cache: an opaque TCP service that speaks first (a banner), on a port
//     nobody declared;
//   - load: a traffic generator calling web with a mix of requests.
package apps

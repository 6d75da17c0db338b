// Package lease keeps the workloads that registered themselves with the
// destination service, each under a lease that expires unless renewed.
//
// A workload is keyed by namespace, name and address: registering the
// same key again renews its lease (and takes any change of labels, ports
// or identity) under the same lease ID. Registrations are written to a
// bbolt file, so they survive a restart of the service; lease deadlines
// are not: after a restart every lease gets a fresh TTL to be renewed in,
// and those not renewed expire. Renewals that change nothing do not touch
// the disk.
//
//	s, err := lease.Open(lease.Config{Path: "/var/lib/meshlite/destination.db", TTL: 15 * time.Second})
//	go s.Run(ctx) // expires leases
//	l, err := s.Register(w, 0)
package lease

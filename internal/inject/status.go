package inject

import (
	"encoding/json"
	"fmt"
	"strings"
)

// status is the value of AnnotationStatus: what inject added to a pod
// template, so that Uninject removes exactly that and nothing the user
// wrote.
type status struct {
	Version        string   `json:"version"`
	Sidecar        string   `json:"sidecar"` // "native" or "classic"
	InitContainers []string `json:"initContainers,omitempty"`
	Containers     []string `json:"containers,omitempty"`
	Volumes        []string `json:"volumes,omitempty"`
	Annotations    []string `json:"annotations,omitempty"`
	Labels         []string `json:"labels,omitempty"`
	// Created are the keys inject created to hold what it added
	// ("metadata.annotations", "spec.initContainers"), or set
	// ("spec.serviceAccountName" of a Pod without one), with ":null" when
	// the key was there with a null value; Uninject removes them (or
	// restores the null) when they are empty again, or still hold what
	// inject set.
	Created []string `json:"created,omitempty"`
}

func (s status) encode() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings and slices of strings always marshal
	}
	return string(b)
}

func parseStatus(v string) (status, error) {
	var s status
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("annotation %s: %w", AnnotationStatus, err)
	}
	return s, nil
}

package jwtauth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// CheckAlgorithms refuses an allow-list the verifier cannot use: an empty
// one, or one naming an algorithm outside SupportedAlgorithms. Each
// problem is one error, in words a setting's message can follow its name
// with.
func CheckAlgorithms(algs []string) error {
	if len(algs) == 0 {
		return errors.New("must name at least one algorithm")
	}
	var errs []error
	for _, a := range algs {
		if !slices.Contains(SupportedAlgorithms, a) {
			errs = append(errs, fmt.Errorf("%q is not allowed (choose from %s)", a, strings.Join(SupportedAlgorithms, ",")))
		}
	}
	return errors.Join(errs...)
}

//go:build !unix

package credfile

import "os"

const openFlags = os.O_RDONLY

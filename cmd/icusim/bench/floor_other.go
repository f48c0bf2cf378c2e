//go:build !linux

package main

import (
	"errors"
	"time"
)

func epollFloor(params, int, time.Duration) (time.Duration, int, error) {
	return 0, 0, errors.New("the epoll floor is measured on Linux only")
}

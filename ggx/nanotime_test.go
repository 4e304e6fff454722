package ggx

import "time"

var startTime = time.Now()

func nanotime() int64 { return int64(time.Since(startTime)) }

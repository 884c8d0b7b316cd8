//go:build race

package main

// raceDetector: the race detector multiplies the test's own memory and CPU
// per client, so the large fault tests run smaller under it.
const raceDetector = true

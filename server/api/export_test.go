package api

// Routes for the external tests.
var RoutesForTest = Routes

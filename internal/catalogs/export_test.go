package catalogs

// ParseEndpointsTSV exports parseEndpointsTSV to tests.
var ParseEndpointsTSV = parseEndpointsTSV

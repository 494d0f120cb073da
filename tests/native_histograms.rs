//! Native histograms (issue 18): protobuf when the scraper prefers it, text
//! byte for byte otherwise, and a real Prometheus that reads both.

// The router's worker is the npm package's own (RouterWorker's other end); this file gives it
// an address in the page's folder, so the files the page lists resolve from here.
import "./pkg/worker.js";

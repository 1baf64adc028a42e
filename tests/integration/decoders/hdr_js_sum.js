// hdr_js_sum.js - the independent check of ringlab's interval logs with hdr-histogram-js:
// decodes every interval of the log given (tagged or not), adds them, and prints the
// total count, max and p50/p99/p99.9 as JSON (values as recorded: nanoseconds).
// Used by test_hist_decoders.py; needs NODE_PATH to reach hdr-histogram-js.
const hdr = require("hdr-histogram-js");
const fs = require("fs");
const acc = hdr.build({lowestDiscernibleValue: 1, highestTrackableValue: 3600e9,
                       numberOfSignificantValueDigits: 3, bitBucketSize: 64});
for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
  if (!line || line[0] === "#" || line[0] === '"') continue;
  const f = line.replace(/^Tag=[^,]*,/, "").split(",");
  acc.add(hdr.decodeFromCompressedBase64(f[3], 64));
}
console.log(JSON.stringify({count: acc.totalCount, max: acc.maxValue,
  p50: acc.getValueAtPercentile(50), p99: acc.getValueAtPercentile(99),
  p999: acc.getValueAtPercentile(99.9)}));

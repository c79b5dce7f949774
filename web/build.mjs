// Bundles the browser code (JsSIP has no browser file of its own) into the Python package's
// static directories; run by scripts/setup.sh after `npm ci`. The output is not committed.
import * as esbuild from "esbuild";

const targets = [
  { entry: "src/kiosk.js", out: "../pvp/kiosk/screen/static/build/kiosk-phone.js" },
  { entry: "src/softphone.js", out: "../pvp/panel/static/build/softphone.js" },
];

for (const { entry, out } of targets) {
  await esbuild.build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: "iife",
    target: ["chrome110"],
    minify: true,
    sourcemap: true,
    legalComments: "linked",
    logLevel: "warning",
  });
}

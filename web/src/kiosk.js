// The kiosk page's video phone: carries out the agent's commands (dial, hang up, audio
// devices) and reports the call's events back. Both travel over 127.0.0.1 and carry the
// per-start token the agent wrote into this page: no other page can drive the call.
import { VideoPhone } from "./phone.js";

const config = JSON.parse(document.getElementById("phone-config").textContent);
const body = document.body;

function report(event) {
  if (event.type === "ringing" || event.type === "established") body.classList.add("in-call");
  if (event.type === "ended" || event.type === "failed") body.classList.remove("in-call");
  return fetch("/phone/report", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-PVP-Token": config.token },
    body: JSON.stringify(event),
  }).catch((err) => console.warn("report lost", err));
}

const phone = new VideoPhone({
  wssUrl: config.wss_url,
  uri: config.uri,
  password: config.password,
  remoteVideo: document.getElementById("remote"),
  localVideo: document.getElementById("self"),
  onEvent: report,
});
window.pvpPhone = phone; // for the browser tests' measurements

const commands = {
  dial: (c) => {
    body.classList.add("in-call");
    return phone.call(c.target, c.audio || {});
  },
  hangup: () => phone.hangup(),
  audio: (c) => phone.useAudio(c.audio || {}),
  keyframe: () => phone.kickKeyframes(),
};

function listen() {
  const url = "/phone/commands?token=" + encodeURIComponent(config.token);
  const source = new EventSource(url);
  source.addEventListener("command", (e) => {
    const command = JSON.parse(e.data);
    const run = commands[command.op];
    if (!run) return;
    Promise.resolve(run(command)).catch((err) =>
      report({ type: command.op === "dial" ? "failed" : "error", reason: String(err.message || err), sip: false }),
    );
  });
  source.onerror = () => {
    source.close();
    setTimeout(listen, 1000);
  };
}

phone.start();
listen();

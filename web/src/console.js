// The counsellor console's video phone: registers over WSS with the short-lived credential the
// panel issues for this page (never the counsellor's softphone secret), rings in the page
// (sound, banner, screen-reader announcement), answers with the camera and microphone chosen
// here (remembered in this browser), hangs up. The call itself (media, keyframe fix, first
// frame measurement) is the kiosk page's VideoPhone.
import JsSIP from "jssip";
import { AUDIO_PROCESSING, VideoPhone } from "./phone.js";

const DEVICES_KEY = "pvp-console-devices";
const $ = (id) => document.getElementById(id);

class ConsolePhone extends VideoPhone {
  start() {
    const o = this.options;
    this.ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(o.wssUrl)],
      uri: o.uri,
      authorization_user: o.authorizationUser,
      password: o.password,
      register: true,
      // Short: a revoked or expired credential stops receiving calls within this.
      register_expires: o.registerSeconds,
      session_timers: false,
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 3,
      user_agent: "PVP console",
    });
    this.ua.on("connected", () => this.setConnected(true));
    this.ua.on("disconnected", () => this.setConnected(false));
    this.ua.on("registered", () => this.emit({ type: "registration", up: true }));
    this.ua.on("unregistered", () => this.emit({ type: "registration", up: false }));
    this.ua.on("registrationFailed", (e) => this.emit({ type: "registration", up: false, reason: e.cause }));
    this.ua.on("newRTCSession", (e) => {
      if (e.originator === "remote") this.incoming(e.session, e.request);
    });
    this.ua.start();
  }

  incoming(session, request) {
    if (this.session) {
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    this.session = session;
    this.callId = request.call_id;
    session.on("peerconnection", (e) => this.watch(e.peerconnection));
    session.on("confirmed", () => this.emit({ type: "established", call: this.callId }));
    this.honourKeyframeRequests(session);
    session.on("ended", (e) => this.finish(session, "ended", e));
    session.on("failed", (e) => this.finish(session, "failed", e));
    const from = request.from;
    this.emit({ type: "incoming", call: this.callId, caller: from.display_name || from.uri.user });
  }

  async answer(choice) {
    const session = this.session;
    if (!session || session.isEstablished()) return;
    const stream = await navigator.mediaDevices.getUserMedia(constraints(choice));
    if (this.session !== session) {
      stream.getTracks().forEach((t) => t.stop()); // the caller left meanwhile
      return;
    }
    this.stream = stream;
    this.showLocal(stream);
    this.reportAudio(stream.getAudioTracks()[0]);
    this.callStarted = performance.now();
    // The first rendered frame is timed from here (VideoPhone.watch).
    this.timing = { started: this.callStarted, answered: this.callStarted, firstFrame: null };
    session.answer({ mediaStream: stream, pcConfig: { iceServers: [] } });
  }

  stop() {
    if (this.ua) this.ua.stop(); // un-REGISTER: calls stop ringing here at once
  }
}

function constraints(choice) {
  const audio = { ...AUDIO_PROCESSING };
  if (choice.microphone) audio.deviceId = { exact: choice.microphone };
  const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
  if (choice.camera) video.deviceId = { exact: choice.camera };
  return { audio, video };
}

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(DEVICES_KEY) || "{}");
  } catch {
    return {};
  }
}

function chosen() {
  return { camera: $("camera").value, microphone: $("microphone").value, speaker: $("speaker").value };
}

/** Fill the device lists (labels need one permission grant) and select what was remembered. */
async function listDevices() {
  let devices = await navigator.mediaDevices.enumerateDevices();
  if (!devices.some((d) => d.label)) {
    const probe = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    probe.getTracks().forEach((t) => t.stop());
    devices = await navigator.mediaDevices.enumerateDevices();
  }
  const saved = remembered();
  for (const [id, kind] of [["camera", "videoinput"], ["microphone", "audioinput"], ["speaker", "audiooutput"]]) {
    const select = $(id);
    select.replaceChildren();
    devices
      .filter((d) => d.kind === kind)
      .forEach((d, i) => select.append(new Option(d.label || `${kind} ${i + 1}`, d.deviceId)));
    if (saved[id] && [...select.options].some((o) => o.value === saved[id])) select.value = saved[id];
  }
}

// A two-tone ring made in the page (no file to fetch), repeated until answered or gone.
class Ringer {
  start() {
    if (this.timer) return;
    this.context = this.context || new AudioContext();
    const ring = () => {
      const ctx = this.context;
      for (const [offset, freq] of [[0, 880], [0.25, 660]]) {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = freq;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(ctx.destination);
        osc.start(ctx.currentTime + offset);
        osc.stop(ctx.currentTime + offset + 0.2);
      }
    };
    ring();
    this.timer = setInterval(ring, 1500);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

const TEXT = {
  registered: "Visiophone prêt : les appels sonnent ici.",
  unregistered: "Visiophone non connecté au commutateur.",
  failed: "Visiophone refusé par le commutateur : rechargez la page.",
};

async function main() {
  const page = JSON.parse($("console-phone").textContent);
  const events = (window.pvpPhoneEvents = []);
  const ringer = new Ringer();
  const announce = (text) => ($("ring-announce").textContent = text);
  const setState = (name) => {
    document.body.dataset.phone = name;
    $("phone-state").textContent = TEXT[name] || name;
  };

  function onEvent(event) {
    events.push({ ...event, at: performance.now() });
    if (event.type === "registration") setState(event.up ? "registered" : event.reason ? "failed" : "unregistered");
    if (event.type === "incoming") {
      document.body.dataset.call = "ringing";
      $("ring-caller").textContent = event.caller;
      $("ring").hidden = false;
      $("answer").disabled = false;
      $("answer").focus();
      announce(`Appel entrant : ${event.caller}. Bouton Répondre.`);
      ringer.start();
    }
    if (event.type === "established") {
      document.body.dataset.call = "talking";
      ringer.stop();
      $("ring").hidden = true;
      $("hangup").disabled = false;
      announce("Appel en cours.");
    }
    if (event.type === "ended" || event.type === "failed") {
      document.body.dataset.call = "none";
      ringer.stop();
      $("ring").hidden = true;
      $("answer").disabled = true;
      $("hangup").disabled = true;
      announce(event.type === "ended" ? "Appel terminé." : "Appel manqué.");
    }
  }

  setState("unregistered");
  try {
    await listDevices();
  } catch (err) {
    $("devices-error").textContent = `Caméra ou micro indisponible : ${err.message}`;
  }
  for (const id of ["camera", "microphone", "speaker"]) {
    $(id).addEventListener("change", () => {
      localStorage.setItem(DEVICES_KEY, JSON.stringify(chosen()));
      if (id === "speaker" && typeof $("remote").setSinkId === "function") $("remote").setSinkId($(id).value);
    });
  }

  const answer = await fetch(page.credential_url, {
    method: "POST",
    headers: { "X-CSRFToken": page.csrf_token },
    credentials: "same-origin",
  });
  if (!answer.ok) {
    setState("failed");
    return;
  }
  const sip = await answer.json();
  const phone = new ConsolePhone({
    wssUrl: sip.wss_url,
    uri: sip.uri,
    authorizationUser: sip.authorization_user,
    password: sip.password,
    registerSeconds: sip.register_seconds,
    remoteVideo: $("remote"),
    localVideo: $("self"),
    onEvent,
  });
  window.pvpConsolePhone = phone; // for the browser tests' measurements
  $("answer").addEventListener("click", () => {
    $("answer").disabled = true;
    ringer.stop();
    phone.answer(chosen()).catch((err) => {
      $("devices-error").textContent = `Caméra ou micro indisponible : ${err.message}`;
      phone.hangup();
    });
  });
  $("hangup").addEventListener("click", () => phone.hangup());
  window.addEventListener("pagehide", () => phone.stop());
  phone.start();
}

main().catch((err) => console.error("console phone", err));

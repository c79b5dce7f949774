// A WebRTC video phone over SIP/WSS (JsSIP), shared by the kiosk page and the counsellor console.
//
// What it adds to JsSIP: media with echo cancellation, noise suppression and gain control
// requested and checked; mid-call audio device changes without renegotiation (replaceTrack,
// setSinkId); and the keyframe fix: the first VP8 keyframe is often dropped before the far
// leg's DTLS is up, and FreeSWITCH forwards the receiver's PLI only with its next RTCP report
// (~4 s of black), so the sender pauses and resumes its encoding once the connection is up,
// which makes the encoder start again on a keyframe (NOTES.md: p90 714 ms instead of 4.5 s).
import JsSIP from "jssip";

const AUDIO_PROCESSING = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
// When, after the connection is up, the sender restarts its video on a keyframe (ms).
const KEYFRAME_KICKS = [250, 1000];
const TRANSPORT_WAIT_MS = 8000; // a press right after a switch restart waits this long

/** The first device of `kind` whose label contains `name` (case-insensitive); "" = default. */
export async function findDevice(kind, name) {
  if (!name) return null;
  const wanted = name.toLowerCase();
  const devices = await navigator.mediaDevices.enumerateDevices();
  const device = devices.find((d) => d.kind === kind && d.label.toLowerCase().includes(wanted));
  if (!device) throw new Error(`no ${kind} named "${name}"`);
  return device.deviceId;
}

async function audioConstraints(inputName) {
  const deviceId = await findDevice("audioinput", inputName);
  return deviceId ? { ...AUDIO_PROCESSING, deviceId: { exact: deviceId } } : { ...AUDIO_PROCESSING };
}

/** Which of the processing constraints the track really applies (from getSettings()). */
export function audioProcessing(track) {
  const settings = track.getSettings();
  const out = {};
  for (const key of Object.keys(AUDIO_PROCESSING)) out[key] = settings[key] === true;
  return out;
}

export class VideoPhone {
  /**
   * options: wssUrl, uri ("sip:user@domain"), password, remoteVideo, localVideo (elements),
   * video (getUserMedia video constraints), onEvent(event) with event.type in
   * transport | ringing | established | ended | failed | audio | keyframe.
   */
  constructor(options) {
    this.options = options;
    this.session = null;
    this.stream = null;
    this.connected = false;
    this.audioOutput = "";
    this.callStarted = 0;
    this.timing = {}; // performance.now() of the call's start, answer, first rendered frame
  }

  emit(event) {
    try {
      this.options.onEvent(event);
    } catch (err) {
      console.error("phone event handler failed", err);
    }
  }

  start() {
    const { wssUrl, uri, password } = this.options;
    this.ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(wssUrl)],
      uri,
      password,
      // The kiosk agent holds the kiosk's one registration (SIP MESSAGE); the page only calls.
      register: this.options.register === true,
      session_timers: false,
      // Back within a few seconds after a switch restart (JsSIP's default waits up to 30 s).
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 3,
      user_agent: "PVP kiosk page",
    });
    this.ua.on("connected", () => this.setConnected(true));
    this.ua.on("disconnected", () => this.setConnected(false));
    this.ua.on("registered", () => this.emit({ type: "registered" }));
    this.ua.on("registrationFailed", (e) => this.emit({ type: "registration_failed", reason: e.cause }));
    this.ua.on("newRTCSession", (e) => this.incomingCall(e));
    this.ua.start();
  }

  /** A call offered to this phone (a counsellor's): ring, then answer() or hangup(). */
  incomingCall(e) {
    if (e.originator !== "remote") return;
    const session = e.session;
    if (this.session || this.ringing) {
      session.terminate({ status_code: 486 });
      return;
    }
    this.ringing = session;
    const callId = e.request.call_id;
    const clear = () => {
      if (this.ringing === session) this.ringing = null;
    };
    session.on("ended", (ev) => {
      clear();
      this.finish(session, "ended", ev);
    });
    session.on("failed", (ev) => {
      clear();
      this.finish(session, "failed", ev);
    });
    this.emit({ type: "incoming", call: callId, from: e.request.from.uri.toString() });
  }

  async answer(audio = {}) {
    const session = this.ringing;
    if (!session) throw new Error("no call is ringing");
    const stream = await this.media(audio);
    this.ringing = null;
    this.session = session;
    this.callId = session._request ? session._request.call_id : null;
    this.stream = stream;
    this.audioOutput = audio.output || "";
    this.showLocal(stream);
    this.callStarted = performance.now();
    this.timing = { started: this.callStarted, answered: this.callStarted, firstFrame: null };
    session.on("confirmed", () => this.emit({ type: "established", call: this.callId }));
    // JsSIP makes an incoming call's peer connection only when answering.
    session.on("peerconnection", (ev) => this.watch(ev.peerconnection));
    session.answer({ mediaStream: stream, pcConfig: { iceServers: [] } });
  }

  setConnected(up) {
    if (up === this.connected) return;
    this.connected = up;
    this.emit({ type: "transport", up });
  }

  async waitConnected(ms) {
    const deadline = Date.now() + ms;
    while (!this.connected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return this.connected;
  }

  async media(audio) {
    const constraints = {
      audio: await audioConstraints(audio.input),
      video: this.options.video || { width: { ideal: 1280 }, height: { ideal: 720 } },
    };
    return navigator.mediaDevices.getUserMedia(constraints);
  }

  /** Place a call to `target`; `audio` names the devices ({input, output}) to start on. */
  async call(target, audio) {
    if (this.session) throw new Error("a call is already in progress");
    if (!(await this.waitConnected(TRANSPORT_WAIT_MS))) {
      this.emit({ type: "failed", reason: "switch unreachable", sip: false });
      return;
    }
    let stream;
    try {
      stream = await this.media(audio);
    } catch (err) {
      this.emit({ type: "failed", reason: `camera or microphone: ${err.message}`, sip: false });
      return;
    }
    this.stream = stream;
    this.audioOutput = audio.output || "";
    this.showLocal(stream);
    this.reportAudio(stream.getAudioTracks()[0]);
    this.callStarted = performance.now();
    this.timing = { started: this.callStarted, answered: null, firstFrame: null };
    // Named by its SIP Call-ID, as the switch and the control plane know it.
    let callId = null;
    const session = this.ua.call(target, {
      mediaStream: stream,
      pcConfig: { iceServers: [] },
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: true },
      eventHandlers: { sending: (e) => (callId = e.request.call_id) },
    });
    this.session = session;
    this.callId = callId;
    session.on("progress", () => this.emit({ type: "ringing", call: callId }));
    session.on("accepted", () => (this.timing.answered = performance.now()));
    session.on("confirmed", () => this.emit({ type: "established", call: callId }));
    session.on("ended", (e) => this.finish(session, "ended", e));
    session.on("failed", (e) => this.finish(session, "failed", e));
    this.watch(session.connection);
  }

  finish(session, type, e) {
    if (this.session !== session) return;
    const response = e.message && e.message.status_code ? e.message : null;
    const reason = response ? `${response.status_code} ${response.reason_phrase}` : e.cause;
    this.session = null;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    this.stream = null;
    this.options.remoteVideo.srcObject = null;
    if (this.options.localVideo) this.options.localVideo.srcObject = null;
    // sip: a SIP answer or BYE ended it (its reason may carry the switch's refusal).
    const sip = Boolean(response) || type === "ended";
    this.emit({ type, call: this.callId, reason: reason || "", sip, by: e.originator });
  }

  hangup() {
    if (this.session) this.session.terminate();
    else if (this.ringing) this.ringing.terminate({ status_code: 486 });
  }

  showLocal(stream) {
    const local = this.options.localVideo;
    if (!local) return;
    local.srcObject = new MediaStream(stream.getVideoTracks());
    local.muted = true;
    local.play().catch(() => {});
  }

  watch(pc) {
    const remote = this.options.remoteVideo;
    const inbound = new MediaStream();
    pc.addEventListener("track", (e) => {
      inbound.addTrack(e.track);
      remote.srcObject = inbound;
      this.applySink().catch((err) => console.warn("audio output", err));
      remote.play().catch(() => {});
    });
    let kicked = false;
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState !== "connected" || kicked) return;
      kicked = true;
      this.kickKeyframes();
    });
    if ("requestVideoFrameCallback" in remote) {
      // The first frame rendered after the answer (park's frames before it do not count).
      const timing = this.timing;
      const frame = () => {
        if (this.timing !== timing) return;
        if (timing.answered === null) {
          remote.requestVideoFrameCallback(frame);
          return;
        }
        timing.firstFrame = performance.now();
        this.emit({ type: "first_frame", ms: Math.round(timing.firstFrame - timing.answered) });
      };
      remote.requestVideoFrameCallback(frame);
    }
  }

  /** Send fresh keyframes soon: the connection is up, or the switch has just bridged this
   * call to someone else (a parked kiosk's first keyframes went to the switch alone). */
  kickKeyframes() {
    const pc = this.session && this.session.connection;
    if (!pc) return;
    for (const delay of KEYFRAME_KICKS) setTimeout(() => this.kickKeyframe(pc), delay);
  }

  /** Pause and resume the video encoding: the encoder restarts on a keyframe. */
  async kickKeyframe(pc) {
    const sender = pc.getSenders().find((s) => s.track && s.track.kind === "video");
    if (!sender || pc.connectionState !== "connected") return;
    const params = sender.getParameters();
    if (!params.encodings || !params.encodings.length) return;
    params.encodings[0].active = false;
    await sender.setParameters(params);
    const again = sender.getParameters();
    again.encodings[0].active = true;
    await sender.setParameters(again);
    this.emit({ type: "keyframe" });
  }

  /** Move microphone and speaker to the devices named in `audio` ({input, output}), mid-call. */
  async useAudio(audio) {
    this.audioOutput = audio.output || "";
    await this.applySink();
    if (!this.session || !this.stream) return;
    const fresh = await navigator.mediaDevices.getUserMedia({ audio: await audioConstraints(audio.input) });
    const track = fresh.getAudioTracks()[0];
    const sender = this.session.connection.getSenders().find((s) => s.track && s.track.kind === "audio");
    const old = this.stream.getAudioTracks()[0];
    if (sender) await sender.replaceTrack(track); // no renegotiation: same codec, same stream
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    this.stream.addTrack(track);
    this.reportAudio(track);
  }

  async applySink() {
    const remote = this.options.remoteVideo;
    if (typeof remote.setSinkId !== "function") return;
    const id = (await findDevice("audiooutput", this.audioOutput)) || "";
    if (remote.sinkId !== id) await remote.setSinkId(id);
  }

  reportAudio(track) {
    if (!track) return;
    this.emit({ type: "audio", label: track.label, processing: audioProcessing(track), output: this.audioOutput });
  }
}

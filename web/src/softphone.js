// The video phone for pages that host one of their own (the counsellor console builds on it):
// `new PVPVideoPhone({wssUrl, uri, password, register: true, remoteVideo, localVideo, onEvent})`.
import { VideoPhone } from "./phone.js";

window.PVPVideoPhone = VideoPhone;

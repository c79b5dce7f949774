// The sign view: pointer strokes (touch, pen or mouse) on the drawing area; "Effacer" clears,
// "Valider" posts the drawing as a PNG, "Annuler" refuses. The view is swapped in by
// screen.js, so everything listens on #view and finds the current canvas each time.
(function () {
  const main = document.getElementById("view");
  let drawing = null; // the pointer drawing now, and its last point
  let inked = false;

  function pad() { return main.querySelector("canvas.sign-pad"); }
  function fit(canvas) {
    // The bitmap follows the element's size once, before the first stroke (not to clear ink).
    if (canvas.dataset.sized) return;
    const box = canvas.getBoundingClientRect();
    canvas.width = Math.round(box.width);
    canvas.height = Math.round(box.height);
    canvas.dataset.sized = "1";
    inked = false;
  }
  function point(canvas, e) {
    const box = canvas.getBoundingClientRect();
    return [(e.clientX - box.left) * canvas.width / box.width,
            (e.clientY - box.top) * canvas.height / box.height];
  }
  function say(text) {
    const line = main.querySelector(".sign-error");
    if (line) line.textContent = text;
  }
  main.addEventListener("pointerdown", (e) => {
    const canvas = e.target.closest("canvas.sign-pad");
    if (!canvas) return;
    e.preventDefault();
    fit(canvas);
    canvas.setPointerCapture(e.pointerId);
    drawing = { id: e.pointerId, at: point(canvas, e) };
    say("");
  });
  main.addEventListener("pointermove", (e) => {
    const canvas = pad();
    if (!canvas || !drawing || drawing.id !== e.pointerId) return;
    const next = point(canvas, e);
    const ink = canvas.getContext("2d");
    ink.strokeStyle = "#0b1f4a";
    ink.lineWidth = Math.max(3, canvas.height / 40);
    ink.lineCap = "round";
    ink.lineJoin = "round";
    ink.beginPath();
    ink.moveTo(drawing.at[0], drawing.at[1]);
    ink.lineTo(next[0], next[1]);
    ink.stroke();
    drawing.at = next;
    inked = true;
  });
  for (const type of ["pointerup", "pointercancel"]) {
    main.addEventListener(type, (e) => { if (drawing && drawing.id === e.pointerId) drawing = null; });
  }
  main.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-sign]");
    const canvas = pad();
    if (!button || !canvas) return;
    const command = encodeURIComponent(canvas.dataset.command);
    if (button.dataset.sign === "clear") {
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      inked = false;
      say("");
    } else if (button.dataset.sign === "cancel") {
      await fetch("/sign/" + command + "/cancel", { method: "POST" });
    } else if (!inked) {
      say("Signez d'abord dans le cadre.");
    } else {
      const png = await new Promise((done) => canvas.toBlob(done, "image/png"));
      const answer = await fetch("/sign/" + command, {
        method: "POST", headers: { "Content-Type": "image/png" }, body: png,
      });
      if (!answer.ok) say((await answer.json()).error || "Signature non envoyée.");
    }
  });
})();

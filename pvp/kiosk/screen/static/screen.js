// Follows the agent: each server-sent event means "the view changed"; fetch and swap it.
(function () {
  const main = document.getElementById("view");
  let shown = Number(main.dataset.version);
  async function refresh(version) {
    if (version <= shown) return;
    const answer = await fetch("/view", { cache: "no-store" });
    shown = Number(answer.headers.get("X-Screen-Version"));
    main.innerHTML = await answer.text();
    main.dataset.version = String(shown);
    document.body.dataset.view = answer.headers.get("X-Screen-View");
  }
  function listen() {
    const events = new EventSource("/events");
    events.addEventListener("view", (e) => refresh(JSON.parse(e.data).version));
    events.onerror = () => { events.close(); setTimeout(listen, 2000); };
  }
  // Touch kiosks: the on-screen service buttons do what the hardware ones do.
  main.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-service]");
    if (button) fetch("/press/" + encodeURIComponent(button.dataset.service), { method: "POST" });
  });
  listen();
})();

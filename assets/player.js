() => {
  // The Video tab's player and its attention timeline, kept in step (issue: "a player that follows
  // the timeline"). gr.Plot has no click events, so a click on the plot is read here: its time is
  // the x axis's, and the <video> seeks there. A playhead (a thin div over the plot, not a plotly
  // shape: moving it redraws nothing) follows playback, at most 10 times a second. The arrow keys
  // and the buttons under the timeline step to the previous/next segment (Shift: detection); the
  // segments and detections come from the figure's layout.meta.wecl (explorer/plots.py).
  if (window.weclPlayer) return;
  const $ = (selector) => document.querySelector(selector);
  const video = () => $("#video video");
  const plot = () => $("#timeline .js-plotly-plot");
  const meta = () => { const gd = plot(); return gd && gd.layout && gd.layout.meta && gd.layout.meta.wecl; };

  function timeAt(gd, clientX) {
    const axis = gd._fullLayout && gd._fullLayout.xaxis;
    if (!axis) return null;
    const px = clientX - gd.getBoundingClientRect().left - axis._offset;
    if (px < 0 || px > axis._length) return null;
    return axis.range[0] + (px / axis._length) * (axis.range[1] - axis.range[0]);
  }

  function seek(t) {
    const v = video();
    if (!v || t === null || !isFinite(t)) return false;
    const end = isFinite(v.duration) ? v.duration : Infinity;
    v.currentTime = Math.max(0, Math.min(t, end));
    draw();
    return true;
  }

  function step(kind, direction) {
    const m = meta(), v = video();
    if (!m || !v) return false;
    const starts = (kind === "detections" ? m.detections : m.segments).map((s) => s[0]).sort((a, b) => a - b);
    const now = v.currentTime;
    const next = direction > 0 ? starts.find((s) => s > now + 0.01)
                               : starts.filter((s) => s < now - 0.05).pop();
    return next === undefined ? false : seek(next);
  }

  function draw() {
    const gd = plot(), v = video();
    if (!gd || !gd._fullLayout || !gd._fullLayout.xaxis) return;
    let head = gd.querySelector(":scope > .wecl-playhead");
    if (!head) {
      head = document.createElement("div");
      head.className = "wecl-playhead";
      if (getComputedStyle(gd).position === "static") gd.style.position = "relative";
      gd.appendChild(head);
    }
    const axis = gd._fullLayout.xaxis, size = gd._fullLayout._size;
    const t = v ? v.currentTime : 0;
    const [a, b] = axis.range;
    const visible = v && isFinite(t) && t >= a && t <= b;
    head.style.display = visible ? "block" : "none";
    if (!visible) return;
    head.style.left = (axis._offset + ((t - a) / (b - a)) * axis._length) + "px";
    head.style.top = size.t + "px";
    head.style.height = size.h + "px";
    head.dataset.time = t.toFixed(3);
  }

  function bind() {
    const gd = plot();
    if (gd && !gd.weclBound) {
      gd.weclBound = true;
      // Plotly covers the page while a button is down (its drag layer), so the click lands outside
      // the plot: a press in the plot and a release that did not move (not a zoom drag) seek.
      gd.addEventListener("mousedown", (e) => {
        const outside = e.button !== 0 || (e.target.closest && e.target.closest(".modebar, .legend"));
        pressed = outside ? null : { gd, x: e.clientX, y: e.clientY };
      }, true);
    }
    const v = video();
    if (v && !v.weclBound) {
      v.weclBound = true;
      ["timeupdate", "seeked", "loadedmetadata"].forEach((name) => v.addEventListener(name, draw));
    }
  }

  let pressed = null;
  document.addEventListener("mouseup", (e) => {
    const down = pressed;
    pressed = null;
    if (down && Math.hypot(e.clientX - down.x, e.clientY - down.y) <= 4) seek(timeAt(down.gd, down.x));
  }, true);

  let last = 0;
  function tick(now) {
    if (now - last > 100) { last = now; bind(); draw(); }  // throttled: 10 updates a second at most
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);

  document.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    const el = document.activeElement;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT|VIDEO)$/.test(el.tagName))) return;
    const gd = plot();
    if (!gd || gd.offsetParent === null || !meta() || !video()) return;  // the Video tab's timeline, shown
    if (step(e.shiftKey ? "detections" : "segments", e.key === "ArrowRight" ? 1 : -1)) e.preventDefault();
  });

  window.weclPlayer = { seek, step, timeAt, draw };
}

(function () {
  var root = document.getElementById("%ID%");
  if (!root || root.getAttribute("data-ready")) return;
  root.setAttribute("data-ready", "1");
  var input = root.querySelector(".sedemo-switcher-input");
  var shown = root.querySelector(".sedemo-switcher-value");
  var variants = root.querySelectorAll(".sedemo-variant");
  var current = 0;
  for (var i = 0; i < variants.length; i++) if (!variants[i].hidden) current = i;
  function show(i) {
    if (i === current || !variants[i]) return;
    var before = variants[current].querySelectorAll("audio");
    var after = variants[i].querySelectorAll("audio");
    for (var k = 0; k < before.length; k++) {
      var a = before[k], b = after[k], playing = !a.paused && !a.ended;
      if (b && a.currentTime > 0 && !a.ended) { try { b.currentTime = a.currentTime; } catch (e) {} }
      a.pause();
      if (b && playing) { var p = b.play(); if (p && p.catch) p.catch(function () {}); }
    }
    variants[current].hidden = true;
    variants[i].hidden = false;
    current = i;
    var label = variants[i].getAttribute("data-value");
    shown.textContent = label;
    input.setAttribute("aria-valuetext", label);
  }
  input.addEventListener("input", function () { show(parseInt(input.value, 10)); });
  show(parseInt(input.value, 10));
})();

// Wharf console: small progressive enhancements; every page works without them.
document.addEventListener("click", function (ev) {
  var b = ev.target.closest("[data-confirm]");
  if (b && !window.confirm(b.getAttribute("data-confirm"))) ev.preventDefault();
  var back = ev.target.closest("[data-back]");
  if (back) { ev.preventDefault(); history.back(); }
});
// Refresh the overview and the stuck list every 60 s while they are visible.
if (location.pathname === "/" || location.pathname === "/ui/stuck") {
  setInterval(function () { if (!document.hidden) location.reload(); }, 60000);
}

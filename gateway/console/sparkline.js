// A slot's lag over the last 15 minutes as an inline SVG line: time on x (the window
// ends now, and starts at the oldest sample when there are not yet 15 minutes of them, as
// after the gateway's start), bytes on y (scaled to the window's largest value).

const svgNs = "http://www.w3.org/2000/svg";
export const windowSeconds = 15 * 60;

// Returns the seconds the line spans.
export function drawSparkline(svg, samples, nowSeconds, warning) {
  const width = Number(svg.getAttribute("data-width")) || 120;
  const height = Number(svg.getAttribute("data-height")) || 24;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.classList.toggle("warning", warning);
  const shown = samples.filter(([time]) => time >= nowSeconds - windowSeconds);
  const start = shown.length ? Math.min(shown[0][0], nowSeconds - 1) : nowSeconds - windowSeconds;
  const span = nowSeconds - start;
  const largest = Math.max(1, ...shown.map(([, bytes]) => bytes));
  const points = shown
    .map(([time, bytes]) => {
      const x = ((time - start) / span) * width;
      const y = height - 1 - (bytes / largest) * (height - 2);
      return x.toFixed(1) + "," + y.toFixed(1);
    })
    .join(" ");
  let line = svg.querySelector("polyline");
  if (!line) {
    line = document.createElementNS(svgNs, "polyline");
    svg.appendChild(line);
  }
  line.setAttribute("points", points);
  svg.setAttribute("data-points", String(shown.length));
  return span;
}

export function createSparkline(width, height, label) {
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("data-width", String(width));
  svg.setAttribute("data-height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  return svg;
}

// Adds the latest reading to a slot's samples (every poll's: a short peak between the
// gateway's 10 s samples still shows); older than the window goes.
export function addSample(samples, nowSeconds, bytes) {
  samples.push([nowSeconds, bytes]);
  while (samples.length && samples[0][0] < nowSeconds - windowSeconds) samples.shift();
}

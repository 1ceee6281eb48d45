// svg.c - SVG figures for the report (see svg.h).
#include "svg.h"
#include "buf.h"
#include "status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------
// Text

void svg_escape(Buf *b, const char *text) {
    for (const char *p = text ? text : ""; *p; p++) {
        switch (*p) {
        case '&': buf_printf(b, "&amp;"); break;
        case '<': buf_printf(b, "&lt;"); break;
        case '>': buf_printf(b, "&gt;"); break;
        case '"': buf_printf(b, "&quot;"); break;
        case '\'': buf_printf(b, "&#39;"); break;
        default:
            // Control characters are not allowed in XML 1.0: drop them.
            if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') break;
            buf_append(b, p, 1);
        }
    }
}

// Escaped text cut to at most max bytes, never inside a UTF-8 sequence.
static void escape_cut(Buf *b, const char *text, size_t max) {
    size_t len = strlen(text);
    if (len <= max) { svg_escape(b, text); return; }
    char tmp[256];
    if (max > sizeof tmp - 4) max = sizeof tmp - 4;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80) cut--;
    memcpy(tmp, text, cut);
    memcpy(tmp + cut, "\xe2\x80\xa6", 4);   // "…" and NUL
    svg_escape(b, tmp);
}

void svg_class_color(int k, char *buf, size_t len) {
    double h = fmod(k * 137.508, 360.0);
    int light = 38 + 12 * (k % 3);   // alternate lightness so close hues differ
    snprintf(buf, len, "hsl(%.0f,70%%,%d%%)", h, light);
}

// ---------------------------------------------------------------------------
// Axes

// A 1-2-5 step giving about `want` ticks over [lo, hi].
static double nice_step(double lo, double hi, int want) {
    double raw = (hi - lo) / (want > 0 ? want : 1);
    if (!(raw > 0)) return 1;
    double p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct Frame {
    double x0, x1, y0, y1;   // data range
    double L, T, W, H;       // plot area in pixels
    int ylog;
} Frame;

static double px(const Frame *f, double x) { return f->L + (x - f->x0) / (f->x1 - f->x0) * f->W; }
static double py(const Frame *f, double y) {
    if (f->ylog) y = log10(y);
    return f->T + f->H - (y - f->y0) / (f->y1 - f->y0) * f->H;
}

static void fig_open(Buf *b, const char *title, int w, int h) {
    buf_printf(b, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" class=\"fig\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n<title>", w, h, w, h);
    svg_escape(b, title);
    buf_printf(b, "</title>\n<text x=\"%d\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">",
               w / 2);
    svg_escape(b, title);
    buf_printf(b, "</text>\n");
}

static void fig_close(Buf *b) { buf_printf(b, "</svg></figure>\n"); }

static void axes(Buf *b, const Frame *f, const char *xlabel, const char *ylabel) {
    buf_printf(b, "<g class=\"axes\" stroke=\"#999\" stroke-width=\"1\">\n");
    buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\"/>\n", f->L, f->T, f->W,
               f->H);
    double sx = nice_step(f->x0, f->x1, 6), sy = nice_step(f->y0, f->y1, 5);
    for (double x = ceil(f->x0 / sx) * sx; x <= f->x1 + 1e-9 * sx; x += sx)
        buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" stroke=\"none\" fill=\"#333\">%g</text>\n",
                   px(f, x), f->T, px(f, x), f->T + f->H, px(f, x), f->T + f->H + 14, fabs(x) < 1e-12 ? 0 : x);
    for (double y = ceil(f->y0 / sy) * sy; y <= f->y1 + 1e-9 * sy; y += sy) {
        double yy = f->T + f->H - (y - f->y0) / (f->y1 - f->y0) * f->H;
        buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" stroke=\"none\" fill=\"#333\">%.4g</text>\n",
                   f->L, yy, f->L + f->W, yy, f->L - 4, yy + 4, f->ylog ? pow(10, y) : (fabs(y) < 1e-12 ? 0 : y));
    }
    buf_printf(b, "</g>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", f->L + f->W / 2, f->T + f->H + 30);
    svg_escape(b, xlabel);
    buf_printf(b, "</text>\n<text transform=\"translate(14,%.1f) rotate(-90)\" text-anchor=\"middle\">",
               f->T + f->H / 2);
    svg_escape(b, ylabel);
    buf_printf(b, "</text>\n");
}

// ---------------------------------------------------------------------------
// Line chart

void svg_line_chart(Buf *b, const SvgLineChart *c, const SvgSeries *s, int ns) {
    Frame f = {.x0 = INFINITY, .x1 = -INFINITY, .y0 = INFINITY, .y1 = -INFINITY, .L = 62, .T = 28,
               .W = c->width - 62 - 14, .H = c->height - 28 - 62, .ylog = c->y_log};
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s[i].n; j++) {
            double x = s[i].x[j], y = s[i].y[j];
            if (!isfinite(x) || !isfinite(y) || (c->y_log && y <= 0)) continue;
            if (c->y_log) y = log10(y);
            f.x0 = fmin(f.x0, x); f.x1 = fmax(f.x1, x);
            f.y0 = fmin(f.y0, y); f.y1 = fmax(f.y1, y);
        }
    fig_open(b, c->title, c->width, c->height);
    if (!(f.x0 <= f.x1)) {   // nothing to draw
        buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">no data</text>\n", c->width / 2,
                   c->height / 2);
        fig_close(b);
        return;
    }
    if (c->y_from_zero && !c->y_log) { f.y0 = fmin(f.y0, 0); f.y1 = fmax(f.y1, 0); }
    if (f.x1 - f.x0 < 1e-12) { f.x0 -= 0.5; f.x1 += 0.5; }
    if (f.y1 - f.y0 < 1e-12 * fmax(1, fabs(f.y1))) { f.y0 -= fmax(0.5, fabs(f.y0) * 0.1); f.y1 += fmax(0.5, fabs(f.y1) * 0.1); }
    else { double pad = 0.05 * (f.y1 - f.y0); f.y1 += pad; if (!(c->y_from_zero && f.y0 == 0)) f.y0 -= pad; }
    axes(b, &f, c->xlabel, c->ylabel);
    for (int i = 0; i < ns; i++) {
        buf_printf(b, "<g class=\"series\"><title>");
        svg_escape(b, s[i].name);
        buf_printf(b, "</title>\n<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s d=\"", s[i].color,
                   s[i].dashed ? " stroke-dasharray=\"5,3\"" : "");
        int pen = 0, npts = 0;
        for (int j = 0; j < s[i].n; j++) {
            double x = s[i].x[j], y = s[i].y[j];
            if (!isfinite(x) || !isfinite(y) || (c->y_log && y <= 0)) { pen = 0; continue; }
            buf_printf(b, "%s%.1f,%.1f", pen ? " L" : " M", px(&f, x), py(&f, y));
            pen = 1;
            npts++;
        }
        buf_printf(b, "\"/>\n");
        for (int j = 0; npts <= 12 && j < s[i].n; j++) {   // dots when the curve is short
            double x = s[i].x[j], y = s[i].y[j];
            if (!isfinite(x) || !isfinite(y) || (c->y_log && y <= 0)) continue;
            buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n", px(&f, x), py(&f, y),
                       s[i].color);
        }
        buf_printf(b, "</g>\n");
    }
    // Legend under the x label.
    double lx = f.L;
    for (int i = 0; i < ns; i++) {
        double ly = c->height - 10;
        buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                   "<text x=\"%.1f\" y=\"%.1f\">", lx, ly - 4, lx + 18, ly - 4, s[i].color,
                   s[i].dashed ? " stroke-dasharray=\"5,3\"" : "", lx + 22, ly);
        svg_escape(b, s[i].name);
        buf_printf(b, "</text>\n");
        lx += 30 + 6.5 * (double)strlen(s[i].name ? s[i].name : "");
    }
    fig_close(b);
}

// ---------------------------------------------------------------------------
// Bars

void svg_hbars(Buf *b, const char *title, const SvgBar *bars, int n, double vmax, int width) {
    const int row = n > 150 ? 6 : 13, L = 200, T = 28, R = 56;
    int h = T + row * n + 24;
    double W = width - L - R;
    fig_open(b, title, width, h);
    for (int i = 0; i < n; i++) {
        double v = bars[i].value, y = T + (double)row * i;
        buf_printf(b, "<g><title>");
        svg_escape(b, bars[i].label);
        if (isnan(v)) buf_printf(b, ": n/a</title>");
        else buf_printf(b, ": %.2f%%</title>", 100 * v);
        if (!isnan(v))
            buf_printf(b, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", L, y + 1,
                       W * fmax(0, fmin(v, vmax)) / vmax, row - 2, bars[i].color ? bars[i].color : "#4a78b5");
        if (row >= 10) {
            buf_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">", L - 4, y + row - 3);
            escape_cut(b, bars[i].label, 34);
            buf_printf(b, "</text><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">", L + W + 4, y + row - 3);
            if (isnan(v)) buf_printf(b, "n/a");
            else buf_printf(b, "%.1f%%", 100 * v);
            buf_printf(b, "</text>");
        }
        buf_printf(b, "</g>\n");
    }
    for (int t = 0; t <= 4; t++)   // axis under the bars
        buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ccc\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%g%%</text>\n",
                   L + W * t / 4, T, L + W * t / 4, T + row * n, L + W * t / 4, T + row * n + 14, 100 * vmax * t / 4);
    fig_close(b);
}

void svg_vbars(Buf *b, const char *title, const SvgBar *bars, int n, double ymin, double ymax, int width,
               int height) {
    Frame f = {.x0 = 0, .x1 = n > 0 ? n : 1, .y0 = ymin, .y1 = ymax > ymin ? ymax : ymin + 1, .L = 62, .T = 28,
               .W = width - 62 - 14, .H = height - 28 - 70};
    fig_open(b, title, width, height);
    buf_printf(b, "<g stroke=\"#999\">");
    double sy = nice_step(f.y0, f.y1, 5);
    for (double y = ceil(f.y0 / sy) * sy; y <= f.y1 + 1e-9; y += sy)
        buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" stroke=\"none\">%g%%</text>\n",
                   f.L, py(&f, y), f.L + f.W, py(&f, y), f.L - 4, py(&f, y) + 4, 100 * y);
    buf_printf(b, "</g>\n");
    double bw = f.W / (n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        double v = isnan(bars[i].value) ? f.y0 : fmax(f.y0, fmin(bars[i].value, f.y1));
        double x = f.L + bw * i + bw * 0.15;
        buf_printf(b, "<g><title>");
        svg_escape(b, bars[i].label);
        buf_printf(b, ": %.2f%%</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">%.2f%%</text>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", 100 * bars[i].value, x, py(&f, v),
                   bw * 0.7, f.T + f.H - py(&f, v), bars[i].color ? bars[i].color : "#4a78b5", x + bw * 0.35,
                   py(&f, v) - 4, 100 * bars[i].value, x + bw * 0.35, f.T + f.H + 16);
        escape_cut(b, bars[i].label, (size_t)(bw / 6.5 > 8 ? bw / 6.5 : 8));
        buf_printf(b, "</text></g>\n");
    }
    buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", f.L, f.T + f.H,
               f.L + f.W, f.T + f.H);
    fig_close(b);
}

// ---------------------------------------------------------------------------
// Heat map

void svg_heatmap(Buf *b, const char *title, const int64_t *confusion, int K, const char *const *names) {
    double cell = K > 0 ? fmin(28, fmax(1.5, 720.0 / K)) : 10;
    int labels = cell >= 7;
    double L = labels ? 190 : 40, T = 34, side = cell * K;
    int w = (int)(L + side + 90), h = (int)(T + side + (labels ? 160 : 40));
    fig_open(b, title, w, h);
    buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" stroke=\"#999\"/>\n", L,
               T, side, side);
    for (int i = 0; i < K; i++) {
        int64_t row = 0;
        for (int j = 0; j < K; j++) row += confusion[(size_t)i * K + j];
        for (int j = 0; j < K; j++) {
            int64_t c = confusion[(size_t)i * K + j];
            if (c <= 0) continue;   // only non-zero cells: K = 400 stays small
            double fr = (double)c / (double)row;
            int r = (int)(255 - (255 - 8) * fr), g = (int)(255 - (255 - 48) * fr), bl = (int)(255 - (255 - 107) * fr);
            buf_printf(b, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"rgb(%d,%d,%d)\"><title>",
                       L + cell * j, T + cell * i, cell, cell, r, g, bl);
            buf_printf(b, "true ");
            svg_escape(b, names[i]);
            buf_printf(b, " \xe2\x86\x92 predicted ");
            svg_escape(b, names[j]);
            buf_printf(b, ": %lld (%.1f%% of the row)</title></rect>\n", (long long)c, 100 * fr);
        }
    }
    if (labels) {
        double fs = fmin(10, cell - 1);
        for (int k = 0; k < K; k++) {
            buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%.0f\">", L - 3,
                       T + cell * k + cell - 2, fs);
            escape_cut(b, names[k], 30);
            buf_printf(b, "</text><text transform=\"translate(%.1f,%.1f) rotate(-60)\" text-anchor=\"end\" "
                       "font-size=\"%.0f\">", L + cell * k + cell - 2, T + side + 4, fs);
            escape_cut(b, names[k], 24);
            buf_printf(b, "</text>\n");
        }
    }
    // Axis names and the colour scale.
    buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">predicted class</text>\n"
               "<text transform=\"translate(12,%.1f) rotate(-90)\" text-anchor=\"middle\">true class</text>\n",
               L + side / 2, (double)h - 6, T + side / 2);
    buf_printf(b, "<defs><linearGradient id=\"heatgrad\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">"
               "<stop offset=\"0\" stop-color=\"#fff\"/><stop offset=\"1\" stop-color=\"rgb(8,48,107)\"/>"
               "</linearGradient></defs><rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"%.1f\" fill=\"url(#heatgrad)\" "
               "stroke=\"#999\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">100%%</text>"
               "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">0%%</text>\n",
               L + side + 14, T, fmin(side, 200), L + side + 30,
               T + 9, L + side + 30, T + fmin(side, 200));
    fig_close(b);
}

// ---------------------------------------------------------------------------
// Scatter map

static void marker(Buf *b, SvgMarker m, double x, double y, const char *color) {
    if (m == SVG_MARKER_CROSS)
        buf_printf(b, "<path d=\"M%.1f,%.1f l6,6 m0,-6 l-6,6\" stroke=\"%s\" stroke-width=\"1.5\"/>", x - 3, y - 3,
                   color);
    else if (m == SVG_MARKER_SQUARE)
        buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\" fill=\"%s\" fill-opacity=\"0.75\"/>",
                   x - 3, y - 3, color);
    else
        buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\" fill-opacity=\"0.75\"/>", x, y, color);
}

void svg_scatter(Buf *b, const char *title, const char *xlabel, const char *ylabel, const SvgPointSet *sets,
                 int nsets, const char *const *class_names, int K, int width, int height) {
    const int legend_w = 230;
    Frame f = {.x0 = INFINITY, .x1 = -INFINITY, .y0 = INFINITY, .y1 = -INFINITY, .L = 62, .T = 28,
               .W = width - 62 - 14 - legend_w, .H = height - 28 - 44};
    for (int s = 0; s < nsets; s++)
        for (int64_t i = 0; i < sets[s].n; i++) {
            double x = sets[s].xy[2 * i], y = sets[s].xy[2 * i + 1];
            if (!isfinite(x) || !isfinite(y)) continue;
            f.x0 = fmin(f.x0, x); f.x1 = fmax(f.x1, x);
            f.y0 = fmin(f.y0, y); f.y1 = fmax(f.y1, y);
        }
    fig_open(b, title, width, height);
    if (!(f.x0 <= f.x1)) {
        buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no points</text>\n", width / 2, height / 2);
        fig_close(b);
        return;
    }
    double px_ = 0.05 * fmax(f.x1 - f.x0, 1e-6), py_ = 0.05 * fmax(f.y1 - f.y0, 1e-6);
    f.x0 -= px_; f.x1 += px_; f.y0 -= py_; f.y1 += py_;
    axes(b, &f, xlabel, ylabel);
    char color[48];
    int *seen = cd_calloc((size_t)(K > 0 ? K : 1), sizeof *seen);
    for (int s = 0; s < nsets; s++) {
        buf_printf(b, "<g class=\"points\" data-set=\"");
        svg_escape(b, sets[s].name);
        buf_printf(b, "\">\n");
        for (int64_t i = 0; i < sets[s].n; i++) {
            double x = sets[s].xy[2 * i], y = sets[s].xy[2 * i + 1];
            int k = sets[s].cls[i];
            if (!isfinite(x) || !isfinite(y) || k < 0 || k >= K) continue;
            if (seen) seen[k] = 1;
            svg_class_color(k, color, sizeof color);
            marker(b, sets[s].marker, px(&f, x), py(&f, y), color);
            buf_printf(b, "\n");
        }
        buf_printf(b, "</g>\n");
    }
    // Legend: marker sets, then the classes present (colours).
    double lx = width - legend_w + 6, ly = 40;
    buf_printf(b, "<g class=\"legend\" font-size=\"10\">\n");
    for (int s = 0; s < nsets; s++, ly += 14) {
        marker(b, sets[s].marker, lx + 4, ly - 4, "#444");
        buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", lx + 12, ly);
        escape_cut(b, sets[s].name, 34);
        buf_printf(b, "</text>\n");
    }
    ly += 6;
    int shown = 0, present = 0, max_rows = (int)((height - ly - 20) / 12);
    for (int k = 0; k < K; k++) present += seen ? seen[k] : 0;
    int cols = present > max_rows ? 2 : 1;
    for (int k = 0; k < K && seen; k++) {
        if (!seen[k]) continue;
        if (shown >= max_rows * cols) {
            buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#666\">\xe2\x80\xa6 and %d more classes</text>\n", lx,
                       ly + 12.0 * max_rows + 10, present - shown);
            break;
        }
        double cx = lx + (shown / max_rows) * (legend_w / 2.0), cy = ly + 12.0 * (shown % max_rows);
        svg_class_color(k, color, sizeof color);
        buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">",
                   cx, cy, color, cx + 11, cy + 8);
        escape_cut(b, class_names[k], cols == 2 ? 16 : 34);
        buf_printf(b, "</text>\n");
        shown++;
    }
    buf_printf(b, "</g>\n");
    free(seen);
    fig_close(b);
}

// svg.h - a small SVG writer for the report (cocodiff-report) into a Buf
// (buf.h): XML/HTML escaping, and the figure kinds the report draws
// (line chart, horizontal and vertical bars, heat map, scatter map). Every
// string that comes from data (titles, class names, file names) goes
// through svg_escape; numbers are printed with %g-style formats.
//
// defines: svg_escape, svg_class_color,
//          SvgSeries, SvgLineChart, svg_line_chart, SvgBar, svg_hbars,
//          svg_vbars, svg_heatmap, SvgPointSet, SvgMarker, svg_scatter
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

// Appends text with & < > " ' escaped (valid in HTML text, SVG text and attributes).
void svg_escape(Buf *b, const char *text);
// A categorical colour for class k ("hsl(...)", golden-angle hues) into buf.
void svg_class_color(int k, char *buf, size_t len);

// ---------------------------------------------------------------------------
// Line chart: series over a shared x axis; NaN y values leave gaps (and a
// series with one finite point shows as a dot).
typedef struct SvgSeries {
    const char *name;      // legend entry
    const double *x, *y;   // (n)
    int n;
    const char *color;     // CSS colour
    int dashed;
} SvgSeries;

typedef struct SvgLineChart {
    const char *title, *xlabel, *ylabel;
    int width, height;     // pixels
    int y_from_zero;       // include 0 in the y range
    int y_log;             // log10 y axis (values <= 0 are skipped)
} SvgLineChart;

void svg_line_chart(Buf *b, const SvgLineChart *c, const SvgSeries *s, int ns);

// ---------------------------------------------------------------------------
// Bars. value in [0, vmax]; NaN values are drawn as "n/a".
typedef struct SvgBar {
    const char *label;
    double value;
    const char *color;   // NULL: the default colour
} SvgBar;

// One row per bar, in the given order, values printed as percentages of 1.
void svg_hbars(Buf *b, const char *title, const SvgBar *bars, int n, double vmax, int width);
// One column per bar, labels under the bars, values as percentages of 1;
// the y axis starts at ymin (0 for plain bars; a floor near the values
// makes small gains visible).
void svg_vbars(Buf *b, const char *title, const SvgBar *bars, int n, double ymin, double ymax, int width,
               int height);

// ---------------------------------------------------------------------------
// Confusion matrix (K, K), rows = true class, coloured by the row-normalised
// fraction, with a <title> tooltip per non-zero cell and class names on the
// axes when the cells are large enough to read them.
void svg_heatmap(Buf *b, const char *title, const int64_t *confusion, int K, const char *const *names);

// ---------------------------------------------------------------------------
// Scatter map of 2-D points coloured by class. Several point sets share the
// axes and the class colours and differ by marker (e.g. the test set's
// score vectors as circles, generated samples as crosses); the legend lists
// the sets by marker and the classes by colour.
typedef enum SvgMarker { SVG_MARKER_CIRCLE = 0, SVG_MARKER_CROSS = 1, SVG_MARKER_SQUARE = 2 } SvgMarker;

typedef struct SvgPointSet {
    const char *name;        // legend entry for the marker
    const float *xy;         // (n, 2)
    const int32_t *cls;      // (n) class of each point, in [0, K)
    int64_t n;
    SvgMarker marker;
} SvgPointSet;

void svg_scatter(Buf *b, const char *title, const char *xlabel, const char *ylabel, const SvgPointSet *sets,
                 int nsets, const char *const *class_names, int K, int width, int height);

# scripts/stats.awk - paired statistics for scripts/experiment.sh, in awk (no
# scipy): Student's t distribution through the regularised incomplete beta
# function (Numerical Recipes' continued fraction, Lanczos log-gamma).
#
# Input: one line per pair "a b" (e.g. module and backbone top-1 of one
# seed). Output (one line): n mean_diff se t p sd, the differences a - b, se
# = sd / sqrt(n), the two-sided p-value of the paired t-test (df = n - 1);
# "n 0 0 0 1 0" when n < 2.
function lgam(x,   t, s, i, g) {
    split("676.5203681218851 -1259.1392167224028 771.32342877765313 -176.61502916214059 " \
          "12.507343278686905 -0.13857109526572012 9.9843695780195716e-6 1.5056327351493116e-7", g, " ")
    if (x < 0.5) return log(3.141592653589793 / sin(3.141592653589793 * x)) - lgam(1 - x)
    x -= 1
    s = 0.99999999999980993
    for (i = 1; i <= 8; i++) s += g[i] / (x + i)
    t = x + 7.5
    return 0.5 * log(2 * 3.141592653589793) + (x + 0.5) * log(t) - t + log(s)
}
function tiny(v) { return (v < 1e-300 && v > -1e-300) ? 1e-300 : v }
function betacf(a, b, x,   m, m2, aa, c, d, del, h) {
    c = 1; d = 1 / tiny(1 - (a + b) * x / (a + 1)); h = d
    for (m = 1; m <= 300; m++) {
        m2 = 2 * m
        aa = m * (b - m) * x / ((a - 1 + m2) * (a + m2))
        d = 1 / tiny(1 + aa * d); c = tiny(1 + aa / c); h *= d * c
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2))
        d = 1 / tiny(1 + aa * d); c = tiny(1 + aa / c); del = d * c; h *= del
        if (del > 0.9999999999 && del < 1.0000000001) break
    }
    return h
}
function ibeta(a, b, x,   bt) {
    if (x <= 0) return 0
    if (x >= 1) return 1
    bt = exp(lgam(a + b) - lgam(a) - lgam(b) + a * log(x) + b * log(1 - x))
    if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a
    return 1 - bt * betacf(b, a, 1 - x) / b
}
# two-sided p-value of Student's t with df degrees of freedom
function t_p(t, df) { return ibeta(df / 2, 0.5, df / (df + t * t)) }
{ d[++n] = $1 - $2; s += $1 - $2 }
END {
    if (n < 2) { printf "%d %.6f 0 0 1 0\n", n, n ? s : 0; exit }
    m = s / n
    for (i = 1; i <= n; i++) v += (d[i] - m) ^ 2
    sd = sqrt(v / (n - 1)); se = sd / sqrt(n)
    t = se > 0 ? m / se : 0
    p = se > 0 ? t_p(t, n - 1) : (m == 0 ? 1 : 0)
    printf "%d %.6f %.6f %.4f %.6g %.6f\n", n, m, se, t, p, sd
}

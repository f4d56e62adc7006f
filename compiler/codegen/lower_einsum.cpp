// Einsum with one or two operands. Each operand is first read through a view that merges a
// repeated letter into one axis (its diagonal: the strides add up). One operand: the letters
// missing from the output are read last and summed per row with vpu.rsum (a transpose when none
// is). Two operands: the letters both share and the output keeps are batches, the shared ones it
// drops are contracted, and the rest are the rows of A and the columns of B; the operands are
// read through permuted views as batches of matrices, so the MXU product needs no copy, and the
// result is copied into the output's letter order when that differs.
#include <algorithm>
#include <map>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

// An operand with one axis per distinct letter (a repeated letter becomes its diagonal).
struct Labelled {
  std::string letters;
  TensorView view;
};

// Replaces "..." by capital letters (lower_einsum refuses equations that use their own) standing
// for the broadcast axes: `rank` is the operand's rank, `ellipsis` the letters to use.
std::string expand_ellipsis(OpContext& ctx, std::string term, size_t rank,
                            const std::string& ellipsis) {
  const size_t at = term.find("...");
  if (at == std::string::npos) return term;
  const size_t explicit_letters = term.size() - 3;
  if (rank < explicit_letters) ctx.unsupported("equation term '" + term + "' exceeds the rank");
  const size_t covered = rank - explicit_letters;
  if (covered > ellipsis.size()) ctx.unsupported("broadcast ellipsis axes of different ranks");
  return term.replace(at, 3, ellipsis.substr(ellipsis.size() - covered));
}

Labelled diagonal(OpContext& ctx, const std::string& letters, const TensorView& v) {
  if (letters.size() != v.dims.size())
    ctx.unsupported("term '" + letters + "' does not match an operand of rank " +
                    std::to_string(v.dims.size()));
  Labelled out{"", TensorView{v.base, v.element_bytes, {}, {}}};
  for (size_t i = 0; i < letters.size(); ++i) {
    const size_t seen = out.letters.find(letters[i]);
    if (seen == std::string::npos) {
      out.letters += letters[i];
      out.view.dims.push_back(v.dims[i]);
      out.view.strides.push_back(v.strides[i]);
    } else {
      if (out.view.dims[seen] != v.dims[i])
        ctx.unsupported(std::string("letter '") + letters[i] + "' names axes of different sizes");
      out.view.strides[seen] += v.strides[i];
    }
  }
  return out;
}

// The view with its axes in the order of `order` (every letter of the operand, once).
TensorView arranged(const Labelled& l, const std::string& order) {
  std::vector<int64_t> perm;
  for (char c : order) perm.push_back(static_cast<int64_t>(l.letters.find(c)));
  return l.view.permuted(perm);
}

int64_t size_of(const Labelled& l, const std::string& letters) {
  int64_t n = 1;
  for (char c : letters) n *= l.view.dims[l.letters.find(c)];
  return n;
}

}  // namespace

void lower_einsum(OpContext& ctx) {
  for (size_t i = 0; i < ctx.inputs(); ++i)
    if (ctx.type(ctx.in(i)).element != ir::ElementType::F32)
      ctx.unsupported("Einsum is lowered for f32 operands");
  if (ctx.inputs() != 1 && ctx.inputs() != 2)
    ctx.unsupported("Einsum is lowered for one or two operands");
  std::string equation = ctx.attr_string("equation", "");
  equation.erase(std::remove(equation.begin(), equation.end(), ' '), equation.end());
  size_t arrow = equation.find("->");
  const bool implicit = arrow == std::string::npos;
  if (implicit) arrow = equation.size();
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = equation.find(',', start);
    terms.push_back(equation.substr(start, std::min(comma, arrow) - start));
    if (comma == std::string::npos || comma > arrow) break;
    start = comma + 1;
  }
  if (terms.size() != ctx.inputs()) ctx.unsupported("the equation names another operand count");
  const std::string ellipsis = "ABCDEFGHIJ";
  if (equation.find("...") != std::string::npos &&
      std::any_of(equation.begin(), equation.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    ctx.unsupported("an ellipsis in an equation that uses capital letters");
  std::vector<Labelled> ops;
  std::map<char, int> uses;
  for (size_t i = 0; i < terms.size(); ++i) {
    const TensorView v = ctx.view(ctx.in(i));
    const std::string letters = expand_ellipsis(ctx, terms[i], v.dims.size(), ellipsis);
    for (char c : letters) ++uses[c];
    ops.push_back(diagonal(ctx, letters, v));
  }
  const TensorView out_view = ctx.view(ctx.out(0));
  std::string out;
  if (implicit) {  // the broadcast axes, then the letters used once, in alphabetical order
    for (const auto& [c, count] : uses)
      if (ellipsis.find(c) != std::string::npos) out += c;
    for (const auto& [c, count] : uses)
      if (ellipsis.find(c) == std::string::npos && count == 1) out += c;
  } else {
    out = expand_ellipsis(ctx, equation.substr(arrow + 2), out_view.dims.size(), ellipsis);
  }
  for (char c : out) {
    const bool known = std::any_of(ops.begin(), ops.end(), [c](const Labelled& l) {
      return l.letters.find(c) != std::string::npos;
    });
    if (!known || std::count(out.begin(), out.end(), c) != 1)
      ctx.unsupported("output term '" + out + "' is not a set of the operands' letters");
  }

  if (ops.size() == 1) {
    const Labelled& a = ops[0];
    std::string summed;
    for (char c : a.letters)
      if (out.find(c) == std::string::npos) summed += c;
    const TensorView in = arranged(a, out + summed);
    if (summed.empty()) {
      emit_copy(ctx, in, out_view);
      ctx.mapping = "copy";
      return;
    }
    StreamKernel k;
    k.width = size_of(a, summed);
    k.rows = size_of(a, out);
    k.slots = {{4, SlotShape::kWide}, {4, SlotShape::kNarrow}};
    k.loads = {{0, in}};
    k.steps = {{isa::Opcode::VPU_RSUM, 1, 0}};
    k.stores = {{1, out_view}};
    ctx.emit(k);
    ctx.mapping = "VPU rows of " + std::to_string(k.width);
    return;
  }

  const Labelled &a = ops[0], &b = ops[1];
  std::string batch, contract, rows, cols;
  for (char c : a.letters) {
    const bool in_b = b.letters.find(c) != std::string::npos;
    const bool kept = out.find(c) != std::string::npos;
    if (in_b && kept) batch += c;
    if (in_b && !kept) contract += c;
    if (!in_b && kept) rows += c;
    if (!in_b && !kept) ctx.unsupported(std::string("letter '") + c + "' is summed within A");
  }
  for (char c : b.letters)
    if (a.letters.find(c) == std::string::npos) {
      if (out.find(c) == std::string::npos)
        ctx.unsupported(std::string("letter '") + c + "' is summed within B");
      cols += c;
    }
  for (char c : batch + contract)
    if (a.view.dims[a.letters.find(c)] != b.view.dims[b.letters.find(c)])
      ctx.unsupported(std::string("letter '") + c + "' has different sizes in A and B");
  const int64_t batches = size_of(a, batch), m = size_of(a, rows), k = size_of(a, contract);
  const int64_t n = size_of(b, cols);
  const std::string product_order = batch + rows + cols;
  const bool in_place = product_order == out;
  const int64_t product = in_place ? out_view.base : ctx.scratch(batches * m * n * 4);
  emit_matmul_batched(ctx, arranged(a, batch + rows + contract),
                      arranged(b, batch + contract + cols), batches, m, k, n, product);
  if (in_place) return;
  ctx.sync();
  // The product's axes, one per letter in product order, then read in the output's order.
  std::vector<int64_t> dims;
  for (char c : product_order)
    dims.push_back(a.letters.find(c) != std::string::npos ? a.view.dims[a.letters.find(c)]
                                                          : b.view.dims[b.letters.find(c)]);
  Labelled result{product_order, TensorView::contiguous(product, 4, dims)};
  emit_copy(ctx, arranged(result, out), out_view);
}

}  // namespace seedchip::compiler

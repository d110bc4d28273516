// The Lab pipeline of edgecolor/pipeline.py for 8-bit images, step for step (see the comments for the
// Python function each part mirrors), so the output matches the Python runtime's.
#include "edgecolor.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>

namespace edgecolor {

namespace {

constexpr int kStripPixels = 1 << 19;  // pipeline.STRIP_PIXELS: full-size work in strips of about this many pixels
constexpr int kMinCells = 2;            // pipeline.MIN_CELLS: network input sides of at least 2 size multiples
constexpr double kMaxLongGrowth = 4.0;  // pipeline.MAX_LONG_GROWTH

std::string jsonPathFor(const std::string& onnxPath) {
    const auto dot = onnxPath.find_last_of('.');
    const auto slash = onnxPath.find_last_of('/');
    const bool hasExt = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    return (hasExt ? onnxPath.substr(0, dot) : onnxPath) + ".json";
}

// pipeline._resize_l: box filter down by halving while possible, then INTER_AREA down or INTER_LINEAR up.
cv::Mat resizeL(cv::Mat L, cv::Size size) {
    while (L.rows >= 2 * size.height && L.cols >= 2 * size.width && std::min(L.rows, L.cols) >= 4) {
        cv::Mat half;
        cv::resize(L, half, cv::Size(L.cols / 2, L.rows / 2), 0, 0, cv::INTER_AREA);
        L = half;
    }
    if (L.size() == size) return L;
    const bool shrink = size.height <= L.rows && size.width <= L.cols;
    cv::Mat out;
    cv::resize(L, out, size, 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    return out;
}

// pipeline._resize_rows: rows y0..y1 of ab bilinearly resized to `full`; a strip is a warpAffine with
// cv::resize's pixel-centre mapping (whole images go through cv::resize, as in Python).
cv::Mat resizeRows(const cv::Mat& ab, cv::Size full, int y0, int y1) {
    cv::Mat out;
    if (y0 == 0 && y1 == full.height) {
        cv::resize(ab, out, full, 0, 0, cv::INTER_LINEAR);
        return out;
    }
    const double sx = static_cast<double>(ab.cols) / full.width, sy = static_cast<double>(ab.rows) / full.height;
    const cv::Matx23d m(sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, (y0 + 0.5) * sy - 0.5);
    cv::warpAffine(ab, out, m, cv::Size(full.width, y1 - y0), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                   cv::BORDER_REPLICATE);
    return out;
}

// pipeline.prepare: L resized (stretched by a few per cent) to the network size, scaled to the network's
// range. With networkSize(), all of the sizing lives here.
cv::Mat networkInput(const cv::Mat& L, int longSide, const Contract& c, cv::Size& valid) {
    valid = networkSize(L.size(), longSide, c.sizeMultiple);
    cv::Mat small;
    resizeL(L, valid).convertTo(small, CV_32F);
    return small * static_cast<float>(c.lScale * 100.0 / 255.0) + static_cast<float>(c.lShift);
}

}  // namespace

Contract readContract(const std::string& onnxPath) {
    const std::string path = jsonPathFor(onnxPath);
    if (!std::ifstream(path).good())
        throw std::runtime_error(path + ": cannot read the model's contract (JSON beside the model)");
    cv::FileStorage fs;
    try {
        fs.open(path, cv::FileStorage::READ | cv::FileStorage::FORMAT_JSON);
    } catch (const cv::Exception&) {
    }
    if (!fs.isOpened()) throw std::runtime_error(path + ": cannot read the model's contract (JSON beside the model)");
    Contract c;
    if (fs["contract"].empty() || fs["input_name"].empty())
        throw std::runtime_error(path + ": not an edgecolor contract");
    if (static_cast<int>(fs["contract"]) > 1) throw std::runtime_error(path + ": contract version is too new");
    if (static_cast<std::string>(fs["input_layout"]) != "NCHW")
        throw std::runtime_error(path + ": only NCHW input is supported");
    c.name = static_cast<std::string>(fs["name"]);
    c.version = static_cast<std::string>(fs["version"]);
    c.inputName = static_cast<std::string>(fs["input_name"]);
    c.outputName = static_cast<std::string>(fs["output_name"]);
    c.colorSpace = static_cast<std::string>(fs["color_space"]);
    c.lScale = static_cast<double>(fs["l_scale"]);
    c.lShift = static_cast<double>(fs["l_shift"]);
    c.abScale = static_cast<double>(fs["ab_scale"]);
    c.sizeMultiple = static_cast<int>(fs["size_multiple"]);
    c.workingSize = static_cast<int>(fs["working_size"]);
    c.outputStride = static_cast<int>(fs["output_stride"]);
    if (c.sizeMultiple < 1 || c.outputStride < 1 || c.workingSize < c.sizeMultiple || c.sizeMultiple % c.outputStride)
        throw std::runtime_error(path + ": inconsistent sizes in the contract");
    return c;
}

cv::Size networkSize(cv::Size image, int longSide, int multiple) {
    // pipeline.network_size: the long side about `longSide`, each side rounded to the nearest multiple
    // (std::nearbyint rounds half to even, like Python's round), each side at least kMinCells multiples;
    // a panorama grows its long side (up to kMaxLongGrowth times) to keep its short side there.
    const int minSide = kMinCells * multiple;
    double scale = static_cast<double>(longSide) / std::max(image.height, image.width);
    if (std::min(image.height, image.width) * scale < minSide)
        scale = std::min(static_cast<double>(minSide) / std::min(image.height, image.width), scale * kMaxLongGrowth);
    const int h = std::max(minSide, static_cast<int>(std::nearbyint(image.height * scale / multiple)) * multiple);
    const int w = std::max(minSide, static_cast<int>(std::nearbyint(image.width * scale / multiple)) * multiple);
    return {w, h};
}

Colorizer::Colorizer(const std::string& onnxPath, int longSide) : contract_(readContract(onnxPath)) {
    const auto level = cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);  // said below
    try {
        net_ = cv::dnn::readNetFromONNX(onnxPath);
    } catch (const cv::Exception& e) {  // most likely an opset 11+ export: OpenCV 4.x needs the tools.cv4 variant
        cv::utils::logging::setLogLevel(level);
        std::string why = e.err.substr(0, e.err.find('\n'));  // "> Node [Clip@ai.onnx]:(...) parse error: OpenCV(..."
        why = why.substr(0, why.find(": OpenCV("));
        why.erase(0, why.find_first_not_of("> "));
        throw std::runtime_error(onnxPath + ": OpenCV " CV_VERSION " cannot read this model (" + why +
                                 "); convert it with python -m tools.cv4 MODEL.onnx OUT.onnx");
    }
    cv::utils::logging::setLogLevel(level);
    if (net_.empty()) throw std::runtime_error(onnxPath + ": OpenCV read an empty network");
    longSide_ = longSide > 0 ? longSide : contract_.workingSize;
}

cv::Mat Colorizer::colorize(const cv::Mat& image) {
    if (image.empty() || image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3))
        throw std::runtime_error("expected an 8-bit grey or BGR image");
    // Full-resolution L on OpenCV's 8-bit scale (L*255/100): what pipeline._full_l / the grey lookup give.
    cv::Mat bgr, lab, L;
    if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
    else bgr = image;
    cv::cvtColor(bgr, lab, cv::COLOR_BGR2Lab);
    cv::extractChannel(lab, L, 0);

    cv::Size valid;
    const cv::Mat small = networkInput(L, longSide_, contract_, valid);

    // The network: 1x1xHxW in, 1x2x(H/s)x(W/s) ab out (Colorizer.predict_ab).
    net_.setInput(cv::dnn::blobFromImage(small), contract_.inputName);
    const cv::Mat out = net_.forward(contract_.outputName);
    const int s = contract_.outputStride;
    if (out.dims != 4 || out.size[1] != 2 || out.size[2] != small.rows / s || out.size[3] != small.cols / s)
        throw std::runtime_error("the network gave an output of an unexpected shape");
    const int abH = (valid.height + s - 1) / s, abW = (valid.width + s - 1) / s;
    const cv::Mat a(out.size[2], out.size[3], CV_32F, const_cast<float*>(out.ptr<float>(0, 0)));
    const cv::Mat b(out.size[2], out.size[3], CV_32F, const_cast<float*>(out.ptr<float>(0, 1)));

    // pipeline.merge(guided=False), 8-bit: quantise ab while small (floor(ab * ab_scale + 128.5), clipped to 0..255).
    cv::Mat ab8(abH, abW, CV_8UC2);
    for (int y = 0; y < abH; ++y) {
        for (int x = 0; x < abW; ++x) {
            const float va = a.at<float>(y, x) * static_cast<float>(contract_.abScale) + 128.5f;
            const float vb = b.at<float>(y, x) * static_cast<float>(contract_.abScale) + 128.5f;
            ab8.at<cv::Vec2b>(y, x) = cv::Vec2b(static_cast<uchar>(std::floor(std::clamp(va, 0.f, 255.f))),
                                                static_cast<uchar>(std::floor(std::clamp(vb, 0.f, 255.f))));
        }
    }
    // pipeline._align: the output overhangs the network input when it is not a multiple of the stride.
    if (valid.height % s || valid.width % s) {
        cv::Mat up;
        cv::resize(ab8, up, cv::Size(abW * s, abH * s), 0, 0, cv::INTER_LINEAR);
        ab8 = up(cv::Rect(0, 0, valid.width, valid.height)).clone();
    }
    // ab to full size, merged with the ORIGINAL L, back to BGR, in row strips like the Python runtime.
    cv::Mat result(L.size(), CV_8UC3);
    const int rows = std::max(1, kStripPixels / L.cols);
    for (int y0 = 0; y0 < L.rows; y0 += rows) {
        const int y1 = std::min(L.rows, y0 + rows);
        cv::Mat channels[] = {L.rowRange(y0, y1), resizeRows(ab8, L.size(), y0, y1)}, labRows, bgrRows;
        cv::merge(channels, 2, labRows);
        cv::cvtColor(labRows, bgrRows, cv::COLOR_Lab2BGR);
        bgrRows.copyTo(result.rowRange(y0, y1));
    }
    return result;
}

}  // namespace edgecolor

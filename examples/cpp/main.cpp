// edgecolor_cpp MODEL.onnx IN OUT [--size N]: colorize one photo. Errors: one line, exit code 1 (bad input)
// or 2 (bad model, bad arguments); the output is written to a temporary file and renamed, never half-written.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

#include "edgecolor.hpp"

namespace fs = std::filesystem;

static int fail(const std::string& what, const std::string& why, int code) {
    std::cerr << "edgecolor_cpp: error: " << what << ": " << why << "\n";
    return code;
}

int main(int argc, char** argv) {
    if (argc != 4 && !(argc == 6 && std::string(argv[4]) == "--size")) {
        std::cerr << "usage: edgecolor_cpp MODEL.onnx IN OUT [--size N]\n";
        return 2;
    }
    const std::string model = argv[1], in = argv[2], out = argv[3];
    int size = 0;
    if (argc == 6) {
        try {
            size = std::stoi(argv[5]);
        } catch (const std::exception&) {
        }
        if (size < 1) return fail("--size", "must be a positive integer", 2);
    }
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
    std::unique_ptr<edgecolor::Colorizer> colorizer;
    try {
        colorizer = std::make_unique<edgecolor::Colorizer>(model, size);  // once; reuse it for every frame
    } catch (const std::exception& e) {
        std::cerr << "edgecolor_cpp: error: " << e.what() << "\n";  // the message names the file
        return 2;
    }
    cv::Mat image;
    try {
        image = cv::imread(in, cv::IMREAD_COLOR);  // 8-bit BGR, EXIF orientation applied
    } catch (const cv::Exception& e) {
        return fail(in, e.err, 1);
    }
    if (image.empty()) return fail(in, "cannot read this image (missing, empty or not an image)", 1);
    if (fs::exists(out) && fs::equivalent(in, out)) return fail(out, "is the input; not overwriting it", 1);
    cv::Mat result;
    try {
        result = colorizer->colorize(image);
    } catch (const std::exception& e) {
        return fail(in, e.what(), 1);
    }
    // Atomic: a temporary file in the output's folder with the same extension (imwrite picks the format by it).
    const fs::path target(out);
    const fs::path tmp = target.parent_path() / ("." + target.stem().string() + ".tmp" + target.extension().string());
    bool written = false;
    try {
        written = cv::imwrite(tmp.string(), result);
    } catch (const cv::Exception& e) {
        std::remove(tmp.c_str());
        return fail(out, e.err, 1);
    }
    std::error_code ec;
    if (written) fs::rename(tmp, target, ec);
    if (!written || ec) {
        std::remove(tmp.c_str());
        return fail(out, "cannot write the output (unknown extension or unwritable folder)", 1);
    }
    return 0;
}

# What `cmake --install` puts under the prefix (included by the top-level CMakeLists.txt):
#   bin/gan
#   lib/libgan_kernels, libgan_engine, libgan_models (.a, or .so with BUILD_SHARED_LIBS), libgan_startup.a
#   include/gan-engine/{kernels,engine,models}/...   (#include "engine/tensor.h", as inside the project)
#   lib/cmake/GanEngine/   find_package(GanEngine) -> gan::kernels, gan::engine, gan::models
#   lib/pkgconfig/gan-engine.pc
# The usage requirements (OpenMP, OpenBLAS, zlib, libpng, libturbojpeg, stb, nlohmann_json, threads; CUDA runtime
# and cuBLAS when the CUDA backend is built, Boost.Context when it is the emulator's) travel with the targets:
# GanEngineConfig.cmake finds them again on the consumer's side.
include(CMakePackageConfigHelpers)

set(GAN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/GanEngine)

install(TARGETS gan_kernels gan_engine gan_models gan_startup EXPORT GanEngineTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS gan RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir kernels engine models)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${GAN_INSTALL_INCLUDEDIR}/${dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh" PATTERN startup EXCLUDE)
endforeach()

install(EXPORT GanEngineTargets NAMESPACE gan:: DESTINATION ${GAN_CMAKE_DIR})
# The OpenBLAS the libraries were built against (a pkg-config module name or .pc file) and the CUDA toolkit's
# folder, for the config file to find the same ones.
set(GAN_CONFIG_OPENBLAS_MODULE ${gan_openblas_module})
set(GAN_CONFIG_CUDA_ROOT "")
if(GAN_WITH_CUDA AND NOT GAN_CUDA_EMU)
  get_filename_component(GAN_CONFIG_CUDA_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/GanEngineConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/GanEngineConfig.cmake INSTALL_DESTINATION ${GAN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/GanEngineConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)  # 0.x: a minor version may break the API
install(FILES ${PROJECT_BINARY_DIR}/GanEngineConfig.cmake ${PROJECT_BINARY_DIR}/GanEngineConfigVersion.cmake
        DESTINATION ${GAN_CMAKE_DIR})

# pkg-config: every flag a program needs to compile and link against the installed libraries (static or shared),
# spelled out; stb, zlib, libpng, libturbojpeg and nlohmann_json through their own .pc files. The OpenBLAS library
# folder goes into the program's RUNPATH, since the OpenMP flavour lives outside the default search path.
set(GAN_PC_CFLAGS "${OpenMP_CXX_FLAGS}")
set(GAN_PC_LIBS "")
foreach(flag ${GAN_BLAS_CFLAGS})
  string(APPEND GAN_PC_CFLAGS " ${flag}")
endforeach()
foreach(dir ${GAN_BLAS_LIBRARY_DIRS})
  string(APPEND GAN_PC_LIBS " -L${dir} -Wl,-rpath,${dir}")
endforeach()
foreach(lib ${GAN_BLAS_LIBRARIES})
  string(APPEND GAN_PC_LIBS " -l${lib}")
endforeach()
string(APPEND GAN_PC_LIBS " ${OpenMP_CXX_FLAGS} -pthread")
if(GAN_CUDA_EMU)  # the SIMT emulator: its CUDA headers, Boost.Context, no toolkit
  string(APPEND GAN_PC_CFLAGS " -DGAN_WITH_CUDA=1 -DGAN_CUDA_EMU=1 -I\${includedir}/kernels/cuda/emu/include")
  string(APPEND GAN_PC_LIBS " -lboost_context")
elseif(GAN_WITH_CUDA)
  string(APPEND GAN_PC_CFLAGS " -DGAN_WITH_CUDA=1")
  foreach(dir ${CUDAToolkit_INCLUDE_DIRS})
    string(APPEND GAN_PC_CFLAGS " -I${dir}")
  endforeach()
  string(APPEND GAN_PC_LIBS " -L${CUDAToolkit_LIBRARY_DIR} -Wl,-rpath,${CUDAToolkit_LIBRARY_DIR}"
                            " -lcudart_static -ldl -lrt")  # cuBLAS: loaded on first use
endif()
# Relocatable: the prefix is found from where the .pc file lies (cmake --install --prefix may move it).
file(RELATIVE_PATH GAN_PC_PREFIX_FROM_PCDIR "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" GAN_PC_PREFIX_FROM_PCDIR "${GAN_PC_PREFIX_FROM_PCDIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/gan-engine.pc.in ${PROJECT_BINARY_DIR}/gan-engine.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/gan-engine.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
